using System.Net;

namespace Switchboard.Networking;

/// <summary>Why an accepted connection was closed at once.</summary>
internal enum ConnectionRefusal
{
    /// <summary>Not refused: the connection holds a slot until <see cref="ConnectionLimiter.Release"/>.</summary>
    None,
    /// <summary>Every slot of the server is taken.</summary>
    ServerFull,
    /// <summary>This source address already holds its share of the slots.</summary>
    SourceFull,
}

/// <summary>
/// Counts accepted connections in total and per source address, decided at accept before the connection takes a
/// slot: one address (a scanner, a broken phone reconnecting in a loop) can hold at most its share, so the total
/// cap cannot be filled by one source and lock everybody else out.
/// </summary>
internal sealed class ConnectionLimiter
{
    private readonly Dictionary<IPAddress, int> _perSource = [];
    private int _total;

    /// <summary>Creates a limiter.</summary>
    public ConnectionLimiter(int maxTotal, int maxPerSource)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTotal, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPerSource, 1);
        MaxTotal = maxTotal;
        MaxPerSource = maxPerSource;
    }

    /// <summary>Most connections at once.</summary>
    public int MaxTotal { get; }

    /// <summary>Most connections at once from one address.</summary>
    public int MaxPerSource { get; }

    /// <summary>Connections holding a slot.</summary>
    public int Count => Volatile.Read(ref _total);

    /// <summary>Takes a slot for a connection from <paramref name="source"/>, or says why not.</summary>
    public ConnectionRefusal TryAcquire(IPAddress source)
    {
        var key = Normalise(source);
        lock (_perSource)
        {
            if (_total >= MaxTotal) return ConnectionRefusal.ServerFull;
            _perSource.TryGetValue(key, out int n);
            if (n >= MaxPerSource) return ConnectionRefusal.SourceFull;
            _perSource[key] = n + 1;
            _total++;
            return ConnectionRefusal.None;
        }
    }

    /// <summary>Gives back the slot of a connection from <paramref name="source"/> taken by <see cref="TryAcquire"/>.</summary>
    public void Release(IPAddress source)
    {
        var key = Normalise(source);
        lock (_perSource)
        {
            if (!_perSource.TryGetValue(key, out int n)) return;
            if (n <= 1) _perSource.Remove(key);
            else _perSource[key] = n - 1;
            _total--;
        }
    }

    /// <summary>Connections held by one source.</summary>
    public int CountFrom(IPAddress source)
    {
        lock (_perSource) return _perSource.GetValueOrDefault(Normalise(source));
    }

    // A dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d; both forms are the same source.
    private static IPAddress Normalise(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;
}
