using System.Runtime.Intrinsics;
using Sharpgrad.Kernels;
using Xunit;

namespace Sharpgrad.Tests.Kernels;

/// <summary><see cref="MaskedStore"/>'s partial stores: exactly the first count floats written, whichever way the machine stores them.</summary>
public sealed class MaskedStoreTests
{
    [Fact]
    public void PartialStoresWriteExactlyTheirCount()
    {
        // the 4-, 2- and 1-float pieces (AMD without AVX-512) and the masked store (elsewhere), every count 0-8, at an
        // odd offset; Copy's tail the same way
        var value = Vector256.Create(1f, 2, 3, 4, 5, 6, 7, 8);
        for (int count = 0; count <= 8; count++)
        {
            foreach (bool pieces in new[] { true, false })
            {
                var dst = Enumerable.Repeat(-9f, 12).ToArray();
                if (pieces) MaskedStore.StorePieces(value, ref dst[1], count);
                else MaskedStore.Store(value, ref dst[1], count);
                Assert.Equal(-9f, dst[0]);
                for (int i = 0; i < count; i++) Assert.Equal(i + 1, dst[1 + i]);
                for (int i = 1 + count; i < 12; i++) Assert.Equal(-9f, dst[i]);
            }
            var half = Enumerable.Repeat(-9f, 8).ToArray();
            if (count <= 4) MaskedStore.Store(value.GetLower(), ref half[1], count);
            Assert.Equal(Enumerable.Range(1, count <= 4 ? count : 0).Select(v => (float)v).Concat(Enumerable.Repeat(-9f, 7 - (count <= 4 ? count : 0))), half[1..]);
        }
        for (int count = 0; count <= 19; count++)
        {
            var src = Enumerable.Range(1, 20).Select(v => (float)v).ToArray();
            var dst = Enumerable.Repeat(-9f, 22).ToArray();
            MaskedStore.Copy(ref src[0], ref dst[1], count);
            Assert.Equal(Enumerable.Repeat(-9f, 1).Concat(src[..count]).Concat(Enumerable.Repeat(-9f, 21 - count)), dst);
        }
    }
}
