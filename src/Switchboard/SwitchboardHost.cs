using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Switchboard.Asterisk;
using Switchboard.Interface;
using Switchboard.Interface.Access;
using Switchboard.Interface.Commands;
using Switchboard.Operations;
using OpenTelemetry.Metrics;
using Switchboard.Interface.DialFiles;
using Switchboard.Interface.Extensions;
using Switchboard.Simulation;
using Switchboard.Storage;
using Switchboard.Switch;
using Switchboard.Telephony;
using Switchboard.Webhooks;

namespace Switchboard;

/// <summary>Top-level settings that choose and place the parts (configuration root).</summary>
public sealed class SwitchboardOptions
{
    /// <summary>The phone system behind the interface: "sip" (the built-in switch), "asterisk" (AMI connector) or "simulated" (<c>--demo</c>).</summary>
    public string PhoneSystem { get; set; } = "sip";

    /// <summary>The SQLite database for forwarding settings and the call journal.</summary>
    public string Database { get; set; } = "switchboard.db";

    /// <summary>How long a write waits for a database locked by another process before the command gets 503.</summary>
    public TimeSpan DatabaseBusyTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the database file is checked for having been deleted or replaced while running.</summary>
    public TimeSpan DatabaseCheckInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The SIP passwords' own database; empty puts it beside <see cref="Database"/> as NAME-secrets.db.</summary>
    public string SecretsDatabase { get; set; } = "";

    /// <summary>Recovery: a database that fails the start-up integrity check is moved aside and a new one begun (the passwords are kept).</summary>
    public bool ResetDamagedDatabase { get; set; }

    /// <summary>FCTIIPEX.INI, or the directory to find it in (name matched case-insensitively).</summary>
    public string ExtensionMap { get; set; } = ".";

    /// <summary>Largest FCTIIPEX.INI read; a larger file is refused and the previous mappings stay.</summary>
    public long ExtensionMapMaxBytes { get; set; } = Interface.Extensions.ExtensionMap.DefaultMaxFileBytes;
}

/// <summary>Settings of the CTI server port (configuration section "CtiServer").</summary>
public sealed class CtiServerOptions
{
    /// <summary>The CTI server port (web dashboard, JSON API, event stream); must differ from the IP interface port.</summary>
    public int Port { get; set; } = 2504;

    /// <summary>Listen address of the CTI server port.</summary>
    public string ListenAddress { get; set; } = "::";

    /// <summary>Serve the CTI server port at all.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>A WebSocket client that does not take an event message within this time is disconnected.</summary>
    public TimeSpan WebSocketSendTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Largest request body in bytes (a command line is far shorter); larger bodies get 413.</summary>
    public int MaxRequestBodyBytes { get; set; } = 64 * 1024;
}

/// <summary>Builds the Switchboard host: configuration, the chosen phone system, front ends. Only this knows all parts.</summary>
public static class SwitchboardHost
{
    /// <summary>Creates the host from command-line arguments (<c>--demo</c>, <c>--Key=value</c>) and optional extra configuration.</summary>
    public static IHost Build(string[] args, Action<IConfigurationBuilder>? configure = null) =>
        Build([.. args.Where(a => a != "--demo")], new HostLaunch(args.Contains("--demo"), null), configure);

    /// <summary>The database file of <c>--demo</c> unless <c>--Database</c> names one: simulated calls never reach the real journal.</summary>
    public const string DemoDatabase = "switchboard-demo.db";

    /// <summary>Creates the host from configuration keys (<c>--Key=value</c>), what the command line asked for, and optional extra configuration.</summary>
    public static IHost Build(string[] configurationArgs, HostLaunch launch, Action<IConfigurationBuilder>? configure = null)
    {
        var rest = configurationArgs;
        bool demo = launch.Demo;
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = rest,
            ContentRootPath = Directory.GetCurrentDirectory(),
            DisableDefaults = true,
        });
        // Lowest priority, so switchboard.json or --Logging:LogLevel:… can turn any of them back up.
        builder.Configuration.AddInMemoryCollection(Operations.LogDefaults.Settings);
        var configFile = launch.ConfigFile is { } given ? Path.GetFullPath(given) : Path.Combine(Directory.GetCurrentDirectory(), "switchboard.json");
        if (launch.ConfigFile is not null && !File.Exists(configFile))
            throw new StartupException($"the configuration file {configFile} does not exist (--config)");
        builder.Configuration.AddJsonFile(configFile, optional: launch.ConfigFile is null, reloadOnChange: false);
        builder.Configuration.AddEnvironmentVariables("SWITCHBOARD_");
        if (demo) builder.Configuration.AddInMemoryCollection([new("Database", DemoDatabase)]);
        builder.Configuration.AddCommandLine(rest);
        if (demo) builder.Configuration.AddInMemoryCollection([new("PhoneSystem", "simulated")]);
        configure?.Invoke(builder.Configuration);

        // Under systemd: Type=notify readiness and journald-friendly lifetime; elsewhere it does nothing.
        builder.Services.AddSystemd();
        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        var formatter = builder.Configuration["Logging:Console:FormatterName"] is { Length: > 0 } named ? named : Logging.EscapingConsoleFormatter.FormatterName;
        builder.Logging.AddConsole(o => o.FormatterName = formatter)
            .AddConsoleFormatter<Logging.EscapingConsoleFormatter, Microsoft.Extensions.Logging.Console.SimpleConsoleFormatterOptions>(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
            });

        var services = builder.Services;
        services.Configure<SwitchboardOptions>(builder.Configuration);
        services.Configure<CtiServerOptions>(builder.Configuration.GetSection("CtiServer"));
        services.Configure<IpInterfaceOptions>(builder.Configuration.GetSection("IpInterface"));
        services.Configure<DialFileOptions>(builder.Configuration.GetSection("DialFiles"));
        services.ConfigureReplacingLists<AccessOptions>(builder.Configuration.GetSection("Access"));
        services.ConfigureReplacingLists<SimulationOptions>(builder.Configuration.GetSection("Simulation"));
        services.ConfigureReplacingLists<OutsideCallOptions>(builder.Configuration.GetSection("OutsideCalls"));
        services.AddSingleton(sp => new OutsideCallPolicy(sp.GetRequiredService<IOptions<OutsideCallOptions>>().Value));

        var options = builder.Configuration.Get<SwitchboardOptions>() ?? new SwitchboardOptions();
        var ipPort = builder.Configuration.GetValue("IpInterface:Port", new IpInterfaceOptions().Port);
        var ctiPort = builder.Configuration.GetValue("CtiServer:Port", new CtiServerOptions().Port);
        if (ipPort == ctiPort && ipPort != 0)
            throw new StartupException($"IpInterface:Port and CtiServer:Port are both {ipPort}; the IP interface port must differ from the CTI server port");

        services.AddSingleton(_ => new CallEventHub());
        // Opened here, before anything starts, so a damaged database stops the start with a clear message and exit code
        // instead of failing inside a hosted service.
        var store = OpenStore(options);
        services.AddSingleton(sp =>
        {
            store.AttachLog(sp.GetRequiredService<ILogger<SqliteStore>>());
            return store;
        });
        services.AddSingleton<IForwardingStore>(sp => sp.GetRequiredService<SqliteStore>());
        services.AddSingleton<ICallJournal>(sp => new Operations.MeteredJournal(sp.GetRequiredService<SqliteStore>(), sp.GetRequiredService<Operations.SwitchboardMetrics>));

        switch (options.PhoneSystem.ToLowerInvariant())
        {
            case "simulated":
                services.AddSingleton(sp => new CallModel(
                    sp.GetRequiredService<IOptions<SimulationOptions>>().Value.Devices,
                    sp.GetRequiredService<CallEventHub>(), sp.GetRequiredService<IForwardingStore>(), sp.GetRequiredService<ICallJournal>()));
                services.AddSingleton<ICallControl>(sp => new SimulatedPhoneSystem(sp.GetRequiredService<CallModel>(),
                    sp.GetRequiredService<IOptions<SimulationOptions>>().Value, TimeProvider.System,
                    sp.GetRequiredService<ILogger<SimulatedPhoneSystem>>(), sp.GetRequiredService<OutsideCallPolicy>()));
                break;
            case "sip":
                services.ConfigureReplacingLists<SwitchOptions>(builder.Configuration.GetSection("Sip"));
                // A generated TLS certificate lives next to the database, the state that must survive a restart.
                services.PostConfigure<SwitchOptions>(o => o.Tls.Directory = o.Tls.Directory.Length > 0 ? o.Tls.Directory : Path.GetDirectoryName(Path.GetFullPath(options.Database)) ?? "");
                // Media:Codecs, the ordered codec list of anchored media: "opus,g722,pcmu,pcma" or an array of names.
                services.PostConfigure<SwitchOptions>(o => o.Codecs = builder.Configuration.GetSection("Media:Codecs") is { Value: { } v } ? [v]
                    : builder.Configuration.GetSection("Media:Codecs").GetChildren().Select(c => c.Value).OfType<string>().DefaultIfEmpty(string.Join(',', o.Codecs)).ToList());
                services.AddSingleton(sp => new CallModel(
                    sp.GetRequiredService<IOptions<SwitchOptions>>().Value.Devices,
                    sp.GetRequiredService<CallEventHub>(), sp.GetRequiredService<IForwardingStore>(), sp.GetRequiredService<ICallJournal>()));
                services.AddSingleton(sp => new SipSwitch(sp.GetRequiredService<IOptions<SwitchOptions>>().Value, sp.GetRequiredService<CallModel>(),
                    sp.GetRequiredService<SqliteStore>(), sp.GetRequiredService<SqliteStore>(), TimeProvider.System, sp.GetRequiredService<ILogger<SipSwitch>>(),
                    loggers: sp.GetRequiredService<ILoggerFactory>())
                { OutsidePolicy = sp.GetRequiredService<OutsideCallPolicy>() });
                services.AddSingleton<ICallControl>(sp => sp.GetRequiredService<SipSwitch>());
                services.AddHostedService<SipSwitchService>();
                break;
            case "asterisk":
                var asterisk = builder.Configuration.GetSection("Asterisk");
                var asteriskOptions = AsteriskOptions.FromConfiguration(asterisk);
                // No default credentials and no guessed extension list: both must come from the operator.
                if (asteriskOptions.Username.Length == 0 || asteriskOptions.Secret.Length == 0)
                    throw new StartupException("PhoneSystem 'asterisk' needs Asterisk:Username and Asterisk:Secret (the manager.conf user)");
                if (asteriskOptions.Devices.Count == 0)
                    throw new StartupException("PhoneSystem 'asterisk' needs Asterisk:Devices (the extensions to control, e.g. [\"100\",\"101\"])");
                services.AddSingleton(sp => new CallModel(asteriskOptions.Devices,
                    sp.GetRequiredService<CallEventHub>(), sp.GetRequiredService<IForwardingStore>(), sp.GetRequiredService<ICallJournal>()));
                services.AddAsteriskPhoneSystem(asterisk);
                break;
            default:
                throw new StartupException($"PhoneSystem '{options.PhoneSystem}' is not known; use 'sip', 'asterisk' or 'simulated'");
        }

        services.AddSingleton(sp => new AccessPolicy(sp.GetRequiredService<IOptions<AccessOptions>>().Value));
        services.AddSingleton(sp => new ExtensionMap(sp.GetRequiredService<IOptions<SwitchboardOptions>>().Value.ExtensionMap,
            log: sp.GetRequiredService<ILogger<ExtensionMap>>(),
            // The same settle rule as dial files: a file is complete once unchanged this long and not open for writing.
            settleTime: sp.GetRequiredService<IOptions<DialFileOptions>>().Value.SettleTime,
            maxFileBytes: sp.GetRequiredService<IOptions<SwitchboardOptions>>().Value.ExtensionMapMaxBytes));
        services.AddSingleton(sp => new CommandInterpreter(sp.GetRequiredService<ICallControl>(), sp.GetRequiredService<AccessPolicy>(),
            sp.GetRequiredService<ExtensionMap>(), sp.GetRequiredService<ILogger<CommandInterpreter>>())
        {
            // The client rule must call outside exactly what the phone system will send outside, or a shorter
            // simulated outside number would slip past Access:OutsideCallClients.
            DialPlan = options.PhoneSystem.Equals("simulated", StringComparison.OrdinalIgnoreCase)
                ? new DialPlan(sp.GetRequiredService<IOptions<SimulationOptions>>().Value.MinOutsideDigits)
                : new DialPlan(),
        });
        services.AddSingleton<IpInterfaceServer>();
        services.AddHostedService(sp => sp.GetRequiredService<IpInterfaceServer>());
        services.AddSingleton<DialFileWatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<DialFileWatcher>());
        if (builder.Configuration.GetValue("CtiServer:Enabled", true))
        {
            services.AddSingleton<Web.CtiWebServer>();
            services.AddHostedService(sp => sp.GetRequiredService<Web.CtiWebServer>());
        }
        services.AddSwitchboardWebhooks(builder.Configuration.GetSection("Webhooks"), message => new StartupException(message));
        AddOperations(builder);
        return builder.Build();
    }

    /// <summary>Control socket, readiness, metrics and the start line: registered last, so the start line comes after every port is open.</summary>
    private static void AddOperations(HostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.Configure<Operations.ControlOptions>(builder.Configuration.GetSection("Control"));
        services.AddSingleton<Operations.SwitchboardMetrics>();
        services.AddSingleton<Operations.Readiness>();
        services.AddSingleton<Operations.ControlCommands>();
        services.AddOpenTelemetry().WithMetrics(m => m
            .AddMeter(Operations.SwitchboardMetrics.MeterName, InterfaceMetrics.MeterName)
            // Each scrape sees the counters as they are now (a test's call, an operator's curl), not a cached copy.
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        if (builder.Configuration.GetValue("Control:Enabled", true))
        {
            services.AddSingleton<Operations.ControlService>();
            services.AddHostedService(sp => sp.GetRequiredService<Operations.ControlService>());
        }
        services.AddHostedService<Operations.StartupReport>();
    }

    private static SqliteStore OpenStore(SwitchboardOptions options)
    {
        var path = Path.GetFullPath(options.Database);
        var storeOptions = new SqliteStoreOptions
        {
            BusyTimeout = options.DatabaseBusyTimeout,
            CheckInterval = options.DatabaseCheckInterval,
            SecretsPath = options.SecretsDatabase.Length > 0 ? Path.GetFullPath(options.SecretsDatabase) : null,
            ResetIfDamaged = options.ResetDamagedDatabase,
        };
        try
        {
            return new SqliteStore(path, storeOptions);
        }
        catch (StoreDamagedException ex) when (ex.IsSecrets)
        {
            throw new StartupException(
                $"the SIP password database {ex.Path} is damaged ({ex.Detail}). Restore it from a backup, or delete it to give " +
                "every extension a new password on the next start (phones must then be re-provisioned)", StartupException.DatabaseDamaged);
        }
        catch (StoreDamagedException ex)
        {
            throw new StartupException(
                $"the database {ex.Path} is damaged ({ex.Detail}). To start again, run once with --ResetDamagedDatabase=true: " +
                $"the damaged file is moved aside to {Path.GetFileName(ex.Path)}.damaged-<time> and a new one begun; forwarding settings " +
                $"and the call journal start empty, the SIP passwords in {Path.GetFileName(storeOptions.SecretsPath ?? SqliteStore.DefaultSecretsPath(path))} are kept",
                StartupException.DatabaseDamaged);
        }
    }
}

/// <summary>A configuration or start-up check error that stops start-up with a clear message and exit code.</summary>
public sealed class StartupException(string message, int exitCode = StartupException.ConfigurationError) : Exception(message)
{
    /// <summary>Exit code of a configuration error.</summary>
    public const int ConfigurationError = 2;

    /// <summary>Exit code of a database that failed its integrity check.</summary>
    public const int DatabaseDamaged = 3;

    /// <summary>The process exit code.</summary>
    public int ExitCode { get; } = exitCode;
}
