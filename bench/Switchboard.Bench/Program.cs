// Runnable benchmarks that print their figures. Usage: switchboard-bench <command> [options]
using Switchboard.Bench.Ip;
using Switchboard.Bench.Media;
using Switchboard.Bench.Relay;
using Switchboard.Bench.Sip;
using Switchboard.Bench.SipLoad;

var command = args.Length > 0 ? args[0] : "help";
var rest = args.Skip(1).ToArray();
switch (command)
{
    case "ip":
        return await IpInterfaceBench.RunAsync(rest);
    case "sip-load":
        return await SipLoadBench.RunAsync(rest);
    case "makecall-hangup":
        return await MakeCallHangupBench.RunAsync(rest);
    case "call-alloc":
        return await CallAllocationBench.RunAsync(rest);
    case "sip-parse":
        return SipParseBench.Run(rest);
    case "media":
        return MediaBench.Run(rest);
    case "relay":
        return await RelayBench.RunAsync(rest);
    case "relay-server":
        return await RelayServer.RunAsync(rest);
    default:
        Console.WriteLine("""
            switchboard-bench ip [--port P] [--seconds S]   IP interface: pipelined TCP (1 and 50 clients), request/response latency, HTTP GET
            switchboard-bench sip-load [--peers switchboard,kamailio[,baseline]] [--baseline-dll PATH] [--rounds R] [--rates 100,200,...] [--step-seconds S] [--hold-calls N]   SIP calls via sipp: highest rate with 0 failures per peer, peers interleaved for R rounds (medians and the median ratio), then N calls held at once (memory per call)
            switchboard-bench makecall-hangup [--calls N] [--rate R] [--pairs P] [--hold-max-ms M] [--clients C]   3PCC MakeCall over the IP interface to sipp phones whose destination hangs up 0-M ms after answering: stuck calls (caller got no BYE, switch still holds the call)
            switchboard-bench call-alloc [--calls N] [--warmup W] [--hangup connected|at-ack] [--types N] [--trace 1]   bytes allocated per CTI call (MakeCall through the switch in process over the in-memory SIP transport, two fake phones), stuck calls, top allocating types
            switchboard-bench media [--seconds S] [--ticks N] [--start N]   media engine: µs per mixed frame of a three-party conference, and how many such conferences one mixing thread carries at 20 ms ticks
            switchboard-bench media [--seconds S] [--ticks N] [--start N] [--codecs G.711,G.722,Opus,Opus+G.722+PCMU]   media engine: µs per mixed frame of a three-party conference in G.711, G.722, Opus and all three mixed, and how many such conferences one mixing thread carries at 20 ms ticks
            switchboard-bench relay [--calls 500,1000,...] [--rounds R] [--peers switchboard,rtpengine] [--seconds S] [--late-ms X] [--idle-calls N]   anchored two-party calls, RTP both ways at 50 packets/s: lost and late packets and CPU per call for the switch's relay and rtpengine, rounds interleaved; then N calls without RTP
            switchboard-bench sip-parse [--seconds S]   SIP parser and writer: messages/s, ns and bytes allocated per message (INVITE+SDP, REGISTER, 200 OK)
            """);
        return command == "help" ? 0 : 2;
}
