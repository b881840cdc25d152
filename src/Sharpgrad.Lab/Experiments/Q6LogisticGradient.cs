using Sharpgrad.NN;

namespace Sharpgrad.Lab;

/// <summary>
/// Q6: logistic regression (Sharpgrad's Linear, sigmoid, binary cross-entropy) on two Fashion-MNIST classes, trained by
/// gradient descent. At every step autograd's dL/dW and dL/db are compared with the exam's closed form computed by
/// hand in float64 loops, dL/dW = (Y_hat - Y) X^T / m and dL/db = sum(Y_hat - Y) / m: in float32 through the Linear
/// layer, and in float64 through the same ops on float64 tensors.
/// </summary>
public sealed class Q6LogisticGradient : LabExperiment
{
    /// <summary>
    /// Extra roundings allowed on top of m in the float32 bound: |autograd - closed form| of entry j may be at most
    /// (m + this) u A_j, where u = 2^-24 is float32's unit roundoff and A_j = sum_i |y_hat_i - y_i| |x_ij| / m the size
    /// of the terms the entry sums. m u A_j is (to first order) the worst-case error of a float32 sum of m products
    /// (Higham, Accuracy and Stability of Numerical Algorithms, 2002, eq. 3.5: gamma_m); the few more cover the
    /// roundings in Y_hat - Y through the sigmoid and cross-entropy backward and the division by m.
    /// </summary>
    public const double Float32ExtraRoundings = 8;

    /// <summary>Largest allowed |autograd - closed form| for the float64 computation.</summary>
    public const double Float64Tolerance = 1e-12;

    private const int Negative = 5, Positive = 7; // Sandal, Sneaker

    /// <inheritdoc/>
    public override int Number => 6;

    /// <inheritdoc/>
    public override string Title => "The logistic-regression gradient";

    /// <inheritdoc/>
    public override string Question => "Logistic regression Z = WX + b, y_hat = sigma(Z), binary cross-entropy L. Give dL/dW as a matrix-matrix product.";

    /// <inheritdoc/>
    public override string Answer => "dL/dZ = Y_hat - Y, so dL/dW = (Y_hat - Y) X^T and dL/db = sum(Y_hat - Y) (divide by m for the mean loss).";

    /// <inheritdoc/>
    public override LabResult Run(LabContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var result = new LabResult();
        var data = context.FashionMnist;
        int perClass = context.Quick ? 500 : 6000, testPerClass = context.Quick ? 500 : 1000, steps = context.Quick ? 40 : 200;
        const double lr = 0.5;
        var (x, y, _) = LabData.TwoClasses(data.Train, Negative, Positive, perClass);
        var (xTest, yTest, testLabels) = LabData.TwoClasses(data.Test, Negative, Positive, testPerClass);
        int m = x.Size(0), n = x.Size(1);
        var xs = x.ToDoubleArray();
        var ys = y.ToDoubleArray();
        var x64 = x.To(DType.Float64);
        var y64 = y.To(DType.Float64);

        var model = new Linear(n, 1, generator: new Generator(context.Seed));
        var sgd = new Sgd(model.Parameters(), lr);
        var trainLoss = new double[steps];
        var testLoss = new double[steps];
        var diff32 = new double[steps];
        var diff64 = new double[steps];
        double maxGrad = 0, relative32 = 0;
        double u32 = Math.ScaleB(1, -24);
        for (int step = 0; step < steps; step++)
        {
            context.Cancellation.ThrowIfCancellationRequested();
            // float32: the Linear layer, sigmoid and BCE, differentiated by autograd
            model.ZeroGrad();
            var yHat = model.Call(x).Sigmoid();
            var loss = Losses.BinaryCrossEntropy(yHat, y);
            loss.Backward();
            trainLoss[step] = loss.Item();
            var (dW, db, sizes, sizeB) = ClosedForm(yHat.ToDoubleArray(), ys, xs, m, n);
            diff32[step] = MaxDiff(model.Weight.Grad!.ToDoubleArray(), dW, model.Bias!.Grad!.Item(), db);
            relative32 = Math.Max(relative32, MaxRelative(model.Weight.Grad!.ToDoubleArray(), dW, sizes, model.Bias.Grad!.Item(), db, sizeB) / u32);
            maxGrad = Math.Max(maxGrad, dW.Max(Math.Abs));

            // float64: the same ops on float64 copies of the current weights
            var w64 = model.Weight.Data.To(DType.Float64).Clone().RequiresGrad_();
            var b64 = model.Bias.Data.To(DType.Float64).Clone().RequiresGrad_();
            var yHat64 = x64.MatMul(w64.Transpose()).Add(b64).Sigmoid();
            Losses.BinaryCrossEntropy(yHat64, y64).Backward();
            var (dW64, db64, _, _) = ClosedForm(yHat64.ToDoubleArray(), ys, xs, m, n);
            diff64[step] = MaxDiff(w64.Grad!.ToDoubleArray(), dW64, b64.Grad!.Item(), db64);

            sgd.Step();
            using (Tensor.NoGrad()) testLoss[step] = Losses.BinaryCrossEntropy(model.Call(xTest).Sigmoid(), yTest).Item();
        }
        double accuracy;
        using (Tensor.NoGrad()) accuracy = LabData.Classify(model.Call(xTest).Sigmoid(), testLabels).Accuracy;
        double max32 = diff32.Max(), max64 = diff64.Max();

        result.Add("training examples m", m);
        result.Add("features (28*28 pixels)", n);
        result.Add("gradient-descent steps", steps);
        result.Add("learning rate", lr);
        result.Add("float32: max |autograd - (Y_hat - Y) X^T / m| over all steps", max32);
        result.Add("float32: max |autograd - closed form| / (u A_j)", relative32);
        result.Add("float32: the same / sqrt(m) (typical rounding grows as sqrt(m))", relative32 / Math.Sqrt(m));
        result.Add("float64: max |autograd - (Y_hat - Y) X^T / m| over all steps", max64);
        result.Add("largest |dL/dW| entry", maxGrad);
        result.Add("first training loss", trainLoss[0]);
        result.Add("last training loss", trainLoss[^1]);
        result.Add("last test loss", testLoss[^1]);
        result.Add("test accuracy (%)", accuracy * 100);
        result.Check("float32 autograd equals (Y_hat - Y) X^T / m and sum(Y_hat - Y) / m up to rounding",
            $"each entry within (m + {Float32ExtraRoundings}) u A_j = {m + Float32ExtraRoundings:F0} u A_j (u = 2^-24, A_j = sum |y_hat - y| |x_j| / m)",
            $"{relative32:F1} u A_j at most (largest absolute difference {LabData.G(max32)})", relative32 <= m + Float32ExtraRoundings);
        result.Check("float64 autograd equals (Y_hat - Y) X^T / m and sum(Y_hat - Y) / m", $"max difference <= {LabData.G(Float64Tolerance)}", LabData.G(max64), max64 <= Float64Tolerance);
        result.Check("the model learns (loss falls)", "last training loss < first", $"{trainLoss[0]:F4} -> {trainLoss[^1]:F4}", trainLoss[^1] < trainLoss[0]);

        var (p1, f1) = context.PlotFile(this, "learning-curve");
        LabPlots.Lines(p1, $"Logistic regression, {data.Train.ClassNames[Negative]} (0) against {data.Train.ClassNames[Positive]} (1)", "gradient-descent step", "binary cross-entropy",
            [LabSeries.Steps("train", trainLoss), LabSeries.Steps("test (after the step)", testLoss)], new LabPlotOptions { IntegerX = true });
        result.Plots.Add(new LabPlot(f1, $"Learning curve: full-batch gradient descent on {m:N0} training images, loss on {xTest.Size(0):N0} test images."));
        var (p2, f2) = context.PlotFile(this, "gradient-difference");
        LabPlots.Lines(p2, "max |autograd dL/dW - (Y_hat - Y) X^T / m| at each step", "gradient-descent step", "max absolute difference",
            [LabSeries.Steps("float32 (Linear layer)", diff32), LabSeries.Steps("float64", diff64)],
            new LabPlotOptions { LogY = true, IntegerX = true, ReferenceLines = [("float64 check", Float64Tolerance)] });
        result.Plots.Add(new LabPlot(f2, "The largest entry-wise difference between autograd's gradient and the closed form, per step (log scale; a step where they agree exactly has no point)."));

        result.Findings.Add($"Over {steps} steps, autograd's dL/dW and dL/db differ from (Y_hat - Y) X^T / m and sum(Y_hat - Y) / m by at most {LabData.G(max32)} in float32 (at most {relative32:F0} u A_j, against the worst-case rounding bound of {m + Float32ExtraRoundings:F0} u A_j for a float32 sum of {m:N0} products, and {relative32 / Math.Sqrt(m):F1} times the typical sqrt(m) u A_j) and {LabData.G(max64)} in float64 (gradient entries up to {LabData.G(maxGrad)}): rounding error, so backpropagation through sigmoid and binary cross-entropy gives exactly dL/dZ = Y_hat - Y.");
        result.Findings.Add($"Trained with that gradient, the loss falls from {trainLoss[0]:F3} to {trainLoss[^1]:F3} and the model separates the two classes with {accuracy * 100:F1}% test accuracy.");
        return result;
    }

    // the exam's closed form, by hand in float64: dW_j = sum_i (yhat_i - y_i) x_ij / m, db = sum_i (yhat_i - y_i) / m;
    // also A_j = sum_i |yhat_i - y_i| |x_ij| / m (and A_b), the size of the terms each entry sums
    private static (double[] DW, double DB, double[] A, double AB) ClosedForm(double[] yHat, double[] y, double[] x, int m, int n)
    {
        var dW = new double[n];
        var a = new double[n];
        double db = 0, ab = 0;
        for (int i = 0; i < m; i++)
        {
            double dz = yHat[i] - y[i], adz = Math.Abs(dz);
            db += dz;
            ab += adz;
            for (int j = 0; j < n; j++)
            {
                double xij = x[i * n + j];
                dW[j] += dz * xij;
                a[j] += adz * Math.Abs(xij);
            }
        }
        for (int j = 0; j < n; j++)
        {
            dW[j] /= m;
            a[j] /= m;
        }
        return (dW, db / m, a, ab / m);
    }

    // max over entries of |autograd - closed form| / A_j; an entry whose terms are all zero must match exactly
    private static double MaxRelative(double[] autogradW, double[] dW, double[] a, double autogradB, double db, double ab)
    {
        static double R(double d, double size) => d == 0 ? 0 : size == 0 ? double.PositiveInfinity : d / size;
        double r = R(Math.Abs(autogradB - db), ab);
        for (int j = 0; j < dW.Length; j++) r = Math.Max(r, R(Math.Abs(autogradW[j] - dW[j]), a[j]));
        return r;
    }

    private static double MaxDiff(double[] autogradW, double[] dW, double autogradB, double db)
    {
        double d = Math.Abs(autogradB - db);
        for (int j = 0; j < dW.Length; j++) d = Math.Max(d, Math.Abs(autogradW[j] - dW[j]));
        return d;
    }
}
