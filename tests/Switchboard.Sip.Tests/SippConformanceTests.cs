using System.Globalization;
using System.Net;
using Switchboard.Sip.Dialogs;
using Switchboard.Sip.Messages;
using Switchboard.Sip.Transactions;
using Switchboard.Sip.Transport;
using Switchboard.Testing;

namespace Switchboard.Sip.Tests;

/// <summary>
/// The real sipp against the stack with a minimal UAS core on top (answers INVITE 180 + 200, BYE 200): retransmitted
/// INVITEs, a lost ACK, and UDP/TCP calls with sipp's built-in caller.
/// </summary>
public sealed class SippConformanceTests : IAsyncLifetime, ISipTransactionUser
{
    private SipTransactionLayer _layer = null!;
    private int _invites;
    private int _byes;
    private int _acks;
    private int _acknowledged;
    private volatile bool _answerAfterRetransmission;

    public Task InitializeAsync()
    {
        // A short T1 so the lost-ACK scenario sees several 200 retransmissions within its one-second pause.
        _layer = new SipTransactionLayer(new SipTransport(new SipTransportOptions { Port = 0 }), new SipTimers { T1 = TimeSpan.FromMilliseconds(100) });
        _layer.Start(this);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _layer.DisposeAsync();

    private string Target => "127.0.0.1:" + _layer.Transport.LocalEndPoint.Port.ToString(CultureInfo.InvariantCulture);

    async Task ISipTransactionUser.OnRequestAsync(ServerTransaction transaction)
    {
        var request = transaction.Request;
        switch (request.Method)
        {
            case "INVITE":
                Interlocked.Increment(ref _invites);
                transaction.Acknowledged += (_, _) => Interlocked.Increment(ref _acknowledged);
                // Holding the answer makes sure the retransmission meets a transaction in Proceeding, not a finished call.
                for (int i = 0; _answerAfterRetransmission && _layer.AbsorbedRequests == 0 && i < 1000; i++)
                    await Task.Delay(10);
                await transaction.RespondAsync(180, toTag: "uas");
                var ok = SipResponse.For(request, 200, toTag: "uas");
                ok.Add(SipHeaderNames.Contact, $"<sip:uas@{Target};transport={transaction.Source.Protocol.ToString().ToLowerInvariant()}>");
                await transaction.RespondAsync(ok);
                break;
            case "BYE":
                Interlocked.Increment(ref _byes);
                await transaction.RespondAsync(200);
                break;
            default:
                await transaction.RespondAsync(200);
                break;
        }
    }

    Task ISipTransactionUser.OnAckAsync(SipRequest ack, SipEndPoint source)
    {
        Interlocked.Increment(ref _acks);
        return Task.CompletedTask;
    }

    Task ISipTransactionUser.OnCancelledAsync(ServerTransaction invite) => invite.RespondAsync(487);

    Task ISipTransactionUser.OnStrayResponseAsync(SipResponse response, SipEndPoint source) => Task.CompletedTask;

    private static void AssertPassed((int Code, string Output) result) =>
        Assert.True(result.Code == 0, $"sipp exit code {result.Code}:\n{result.Output}");

    [Fact]
    public async Task A_retransmitted_INVITE_is_absorbed_and_the_call_completes()
    {
        _answerAfterRetransmission = true;
        using var sipp = Sipp.Start("uac_retransmitted_invite.xml", Ports.FreeUdp(), Target);
        AssertPassed(await sipp.ExitAsync());
        Assert.Equal(1, _invites);
        Assert.True(_layer.AbsorbedRequests >= 1, $"absorbed {_layer.AbsorbedRequests}");
        Assert.Equal(1, _byes);
    }

    [Fact]
    public async Task The_200_is_retransmitted_until_a_late_ACK_arrives()
    {
        using var sipp = Sipp.Start("uac_lost_ack.xml", Ports.FreeUdp(), Target);
        AssertPassed(await sipp.ExitAsync());
        Assert.Equal(1, _invites);
        Assert.True(_layer.ResponseRetransmissions >= 2, $"200 retransmitted {_layer.ResponseRetransmissions} times");
        Assert.Equal(1, _acknowledged);
        Assert.Equal(1, _byes);
    }

    [Theory]
    [InlineData("u1")]
    [InlineData("t1")]
    public async Task Sipps_built_in_caller_completes_a_call(string transport)
    {
        using var sipp = Sipp.Start("builtin:uac", Ports.FreeUdp(), Target, "-t", transport);
        AssertPassed(await sipp.ExitAsync());
        Assert.Equal(1, _invites);
        Assert.Equal(1, _byes);
        Assert.Equal(1, _acknowledged);
    }

    [Fact]
    public async Task A_retransmitted_200_is_acknowledged_again_end_to_end_and_the_dialog_ends_with_BYE()
    {
        // Default T1 here: Timer B (32 s) must not fire on a sipp that starts slowly on a loaded machine.
        await using var uac = new SipTransactionLayer(new SipTransport(new SipTransportOptions { Port = 0, EnableTcp = false }));
        uac.Start(this);
        var local = "127.0.0.1:" + uac.Transport.LocalEndPoint.Port.ToString(CultureInfo.InvariantCulture);
        int sippPort = Ports.FreeUdp();
        using var sipp = Sipp.Start("uas_200_retransmitted.xml", sippPort, null);
        var peer = new SipEndPoint(SipProtocol.Udp, new IPEndPoint(IPAddress.Loopback, sippPort));
        var remote = $"sip:sipp@127.0.0.1:{sippPort.ToString(CultureInfo.InvariantCulture)}";
        var contact = $"<sip:uac@{local}>";
        var dialog = SipDialog.ForOutgoing(SipTransactionLayer.NewToken(), SipTransactionLayer.NewToken(4), $"sip:uac@{local}", remote, remote, peer);
        var invite = dialog.NewRequest("INVITE", contact);
        var gate = new object();
        SipRequest? ack = null;
        int acksSent = 0;
        // The 2xx ACK belongs to the UA core, not the transaction: every copy of the 200 gets the same ACK again.
        SipRequest AckFor(SipResponse ok)
        {
            lock (gate)
            {
                if (ack is null)
                {
                    dialog.OnResponse(ok);
                    ack = dialog.NewRequest("ACK", contact, invite.CSeq.Number);
                }
                return ack;
            }
        }
        var txn = uac.Send(invite, peer);
        var retransmitted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        txn.AdditionalSuccess += ok =>
        {
            Interlocked.Increment(ref acksSent);
            _ = uac.SendAckAsync(AckFor(ok), peer);
            retransmitted.TrySetResult();
        };
        var final = await txn.FinalResponse.WaitAsync(TimeSpan.FromSeconds(40));
        if (final.StatusCode != 200) Assert.Fail($"INVITE got {final.StatusCode}; sipp: {(await sipp.ExitAsync()).Output}");
        // As if the first ACK were lost: it goes out only once the retransmitted 200 is here. Sent at once, it could
        // reach sipp before sipp has sent its second 200 (a loaded machine), which sipp takes as an unexpected message.
        await retransmitted.Task.WaitAsync(TimeSpan.FromSeconds(40));
        Interlocked.Increment(ref acksSent);
        await uac.SendAckAsync(AckFor(final), peer);
        Assert.Equal(ClientTransactionState.Accepted, txn.State);
        Assert.Equal("sip:sipp@127.0.0.1:" + sippPort.ToString(CultureInfo.InvariantCulture) + ";transport=UDP", dialog.RemoteTarget); // the Contact of the 200 is the new remote target

        var bye = uac.Send(dialog.NewRequest("BYE", contact), peer);
        var byeFinal = await bye.FinalResponse.WaitAsync(TimeSpan.FromSeconds(40));
        if (byeFinal.StatusCode != 200) Assert.Fail($"BYE got {byeFinal.StatusCode}; sipp: {(await sipp.ExitAsync()).Output}");
        AssertPassed(await sipp.ExitAsync());
        Assert.Equal(2, acksSent);
    }
}
