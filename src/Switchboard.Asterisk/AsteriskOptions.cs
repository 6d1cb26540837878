using Microsoft.Extensions.Configuration;
using Switchboard.Asterisk.Ami;

namespace Switchboard.Asterisk;

/// <summary>Settings of the Asterisk connector (configuration section "Asterisk").</summary>
public sealed class AsteriskOptions
{
    /// <summary>Asterisk host running AMI.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>AMI port.</summary>
    public int Port { get; set; } = 5038;

    /// <summary>manager.conf user.</summary>
    public string Username { get; set; } = "";

    /// <summary>manager.conf secret (never logged).</summary>
    public string Secret { get; set; } = "";

    /// <summary>Dial string of a device's phone; {0} is the extension.</summary>
    public string ChannelTemplate { get; set; } = "PJSIP/{0}";

    /// <summary>Dialplan context that MakeCall, Redirect and transfers dial into.</summary>
    public string Context { get; set; } = "internal";

    /// <summary>The extensions this connector controls.</summary>
    public List<string> Devices { get; set; } = [];

    /// <summary>SIP header added to the INVITE of an originated call so the phone answers by itself ("Name: value"); empty for none.</summary>
    public string AutoAnswerHeader { get; set; } = "Call-Info: answer-after=0";

    /// <summary>
    /// How Answer makes a device's phone go off-hook, per extension: <c>Talk</c> (it obeys a NOTIFY "Event: talk") or
    /// <c>None</c> (Answer replies 501). Extensions not listed are tried with NOTIFY talk once and the outcome is
    /// remembered.
    /// </summary>
    public Dictionary<string, AnswerMethod> AnswerMethods { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How long after a NOTIFY talk the call must be answered before Answer is reported as failed, in milliseconds.</summary>
    public int AnswerTimeoutMs { get; set; } = 3000;

    /// <summary>AstDB family holding call-forward targets (key = extension).</summary>
    public string ForwardFamily { get; set; } = "CF";

    /// <summary>AstDB family holding do-not-disturb flags (key = extension).</summary>
    public string DndFamily { get; set; } = "DND";

    /// <summary>Extension of the ConfBridge room used by Conference.</summary>
    public string ConferenceRoom { get; set; } = "801";

    /// <summary>Context of the conference room extension.</summary>
    public string ConferenceContext { get; set; } = "internal";

    /// <summary>How long an originated call rings the device's phone, in seconds.</summary>
    public int RingTimeoutSeconds { get; set; } = 30;

    /// <summary>Keep-alive interval in seconds.</summary>
    public int PingIntervalSeconds { get; set; } = 20;

    /// <summary>First reconnect delay in milliseconds (doubles up to 30 s).</summary>
    public int ReconnectMinDelayMs { get; set; } = 1000;

    /// <summary>The AMI client settings derived from these options.</summary>
    public AmiClientOptions ToClientOptions() => new()
    {
        Host = Host,
        Port = Port,
        Username = Username,
        Secret = Secret,
        PingInterval = TimeSpan.FromSeconds(Math.Max(1, PingIntervalSeconds)),
        ReconnectMinDelay = TimeSpan.FromMilliseconds(Math.Max(10, ReconnectMinDelayMs)),
    };

    /// <summary>Reads the options from a configuration section (keys as the property names).</summary>
    public static AsteriskOptions FromConfiguration(IConfiguration section)
    {
        var o = new AsteriskOptions();
        o.Host = section["Host"] ?? o.Host;
        o.Port = Int(section["Port"], o.Port);
        o.Username = section["Username"] ?? o.Username;
        o.Secret = section["Secret"] ?? o.Secret;
        o.ChannelTemplate = section["ChannelTemplate"] ?? o.ChannelTemplate;
        o.Context = section["Context"] ?? o.Context;
        o.AutoAnswerHeader = section["AutoAnswerHeader"] ?? o.AutoAnswerHeader;
        o.ForwardFamily = section["ForwardFamily"] ?? o.ForwardFamily;
        o.DndFamily = section["DndFamily"] ?? o.DndFamily;
        o.ConferenceRoom = section["ConferenceRoom"] ?? o.ConferenceRoom;
        o.ConferenceContext = section["ConferenceContext"] ?? o.ConferenceContext;
        o.RingTimeoutSeconds = Int(section["RingTimeoutSeconds"], o.RingTimeoutSeconds);
        o.AnswerTimeoutMs = Int(section["AnswerTimeoutMs"], o.AnswerTimeoutMs);
        foreach (var m in section.GetSection("AnswerMethods").GetChildren())
        {
            if (!Enum.TryParse<AnswerMethod>(m.Value, ignoreCase: true, out var method) || !Enum.IsDefined(method))
                throw new ArgumentException($"Asterisk:AnswerMethods:{m.Key} must be Talk or None, not '{m.Value}'");
            o.AnswerMethods[m.Key] = method;
        }
        o.PingIntervalSeconds = Int(section["PingIntervalSeconds"], o.PingIntervalSeconds);
        o.ReconnectMinDelayMs = Int(section["ReconnectMinDelayMs"], o.ReconnectMinDelayMs);
        var devices = section.GetSection("Devices").GetChildren().Select(c => c.Value).OfType<string>().ToList();
        if (devices.Count > 0) o.Devices = devices;
        return o;
    }

    private static int Int(string? s, int fallback) =>
        int.TryParse(s, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : fallback;
}

/// <summary>How Answer makes a ringing phone on Asterisk go off-hook.</summary>
public enum AnswerMethod
{
    /// <summary>It cannot: Answer replies 501.</summary>
    None,
    /// <summary>A NOTIFY with <c>Event: talk</c> to the endpoint (PJSIPNotify).</summary>
    Talk,
}
