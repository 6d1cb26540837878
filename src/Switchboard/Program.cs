using Switchboard.Operations;

return await SwitchboardCommandLine.RunAsync(args, Console.Out, Console.Error);
