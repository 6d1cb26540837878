using System.Globalization;
using System.Net;
using Switchboard.Media;
using Switchboard.Media.Codecs;

namespace Switchboard.Bench.Relay;

/// <summary>
/// The peer under test in its own process, so its CPU time is its own: the Switchboard media engine holding N
/// anchored two-party calls (two endpoints and one conference each), as the switch sets them up. Prints one line per
/// call with the two endpoint ports, then "ready", and runs until its standard input closes.
/// </summary>
internal static class RelayServer
{
    public static async Task<int> RunAsync(string[] args)
    {
        var calls = 0;
        var mix = false;
        IPEndPoint[] phones = [];
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--calls": calls = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--phones": phones = [.. args[++i].Split(',').Select(IPEndPoint.Parse)]; break;
                case "--mix": mix = true; break;
            }
        }

        if (calls <= 0 || phones.Length != 2)
        {
            await Console.Error.WriteLineAsync("relay-server --calls N --phones A,B [--mix]").ConfigureAwait(false);
            return 2;
        }

        await using var engine = new MediaEngine(new MediaEngineOptions());
        var output = new System.Text.StringBuilder();
        for (var c = 0; c < calls; c++)
        {
            var a = engine.CreateEndpoint();
            var b = engine.CreateEndpoint();
            a.SetRemote(phones[0], AudioCodec.Pcmu);

            // --mix: two codecs make the conference transcode, which is the path every anchored call took before the relay.
            b.SetRemote(phones[1], mix ? AudioCodec.Pcma : AudioCodec.Pcmu);
            var conference = engine.CreateConference();
            conference.Add(a);
            conference.Add(b);
            output.Append(CultureInfo.InvariantCulture, $"{a.LocalEndPoint.Port} {b.LocalEndPoint.Port}\n");
        }

        output.Append(CultureInfo.InvariantCulture, $"ready {engine.MixingConferences}\n");
        await Console.Out.WriteAsync(output.ToString()).ConfigureAwait(false);
        await Console.Out.FlushAsync().ConfigureAwait(false);
        await Console.In.ReadToEndAsync().ConfigureAwait(false);
        return 0;
    }
}
