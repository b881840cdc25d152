#!/usr/bin/env bash
# Regenerates src/Sharpgrad.Onnx/Generated/Onnx.g.cs from ONNX's onnx.proto.
# Needs Debian's libonnx-dev (apt-get install -y libonnx-dev: /usr/include/onnx/onnx.proto, ONNX 1.12) and
# protoc from the Google.Protobuf.Tools NuGet package (restored once into ~/.nuget/packages).
# The generated file is committed, so a fresh clone builds without either.
set -euo pipefail
cd "$(dirname "$0")/.."
proto=${ONNX_PROTO:-/usr/include/onnx/onnx.proto}
ver=3.36.2
protoc=${PROTOC:-$HOME/.nuget/packages/google.protobuf.tools/$ver/tools/linux_x64/protoc}
if [ ! -x "$protoc" ]; then
  tmp=$(mktemp -d)
  printf '<Project Sdk="Microsoft.NET.Sdk"><PropertyGroup><TargetFramework>net10.0</TargetFramework><ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally></PropertyGroup><ItemGroup><PackageDownload Include="Google.Protobuf.Tools" Version="[%s]" /></ItemGroup></Project>' "$ver" > "$tmp/p.csproj"
  dotnet restore "$tmp/p.csproj" >/dev/null
  chmod +x "$protoc"
fi
work=$(mktemp -d)
# the C# classes go into the assembly's one namespace and stay internal
sed 's/^package onnx;/package onnx;\noption csharp_namespace = "Sharpgrad.Onnx";/' "$proto" > "$work/onnx.proto"
"$protoc" --proto_path="$work" --csharp_out="$work" --csharp_opt=internal_access,file_extension=.g.cs "$work/onnx.proto"
mkdir -p src/Sharpgrad.Onnx/Generated
cp "$work/Onnx.g.cs" src/Sharpgrad.Onnx/Generated/Onnx.g.cs
rm -rf "$work"
echo "wrote src/Sharpgrad.Onnx/Generated/Onnx.g.cs from $proto"
