using System.CommandLine;
using Sharpgrad.Cli;

return SharpgradCli.Run(args);
