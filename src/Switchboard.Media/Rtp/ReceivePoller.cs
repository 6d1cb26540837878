using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Switchboard.Media.Rtp;

/// <summary>
/// Linux receive path for every RTP socket of an engine: a few threads, each waiting in one epoll set for whichever
/// of its sockets has a datagram, reading it with one non-blocking recvfrom and handing it to its endpoint on the
/// same thread (as rtpengine's userspace workers do). A socket without packets costs nothing; a packet costs one
/// recvfrom plus its share of an epoll_wait, with no task, no thread-pool hop and no allocation.
/// </summary>
internal sealed partial class ReceivePoller : IDisposable
{
    /// <summary>Events taken from the kernel per epoll_wait.</summary>
    private const int MaxEvents = 256;

    // The threads look at the stop flag this often when no packet comes.
    private const int WaitMilliseconds = 200;

    private const int EpollCtlAdd = 1;
    private const int EpollCtlDel = 2;
    private const uint EpollIn = 0x001;
    private const int MsgDontWait = 0x40;
    private const int EpollCloexec = 0x80000;
    private const int Eintr = 4;

    private readonly Worker[] _workers;
    private readonly ConcurrentDictionary<ulong, RtpEndpoint> _endpoints = new();
    private long _nextId;
    private int _nextWorker;
    private volatile bool _stopping;

    private ReceivePoller(int[] epollFds)
    {
        _workers = new Worker[epollFds.Length];
        for (var i = 0; i < epollFds.Length; i++)
        {
            _workers[i] = new Worker(this, epollFds[i], i);
        }
    }

    /// <summary>The poller, or null where there is no epoll (not Linux): endpoints then receive with async socket calls.</summary>
    public static ReceivePoller? TryCreate(int threads)
    {
        // The epoll_event layout below is x86-64's (packed); elsewhere the portable async path serves.
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            return null;
        }

        var fds = new int[threads];
        for (var i = 0; i < threads; i++)
        {
            fds[i] = EpollCreate1(EpollCloexec);
            if (fds[i] < 0)
            {
                for (var j = 0; j < i; j++) Close(fds[j]);
                return null;
            }
        }

        return new ReceivePoller(fds);
    }

    /// <summary>Starts delivering the socket's datagrams to the endpoint; returns the registration to pass to <see cref="Remove"/>.</summary>
    public ulong Add(RtpEndpoint endpoint, Socket socket)
    {
        var id = (ulong)Interlocked.Increment(ref _nextId);
        _endpoints[id] = endpoint;
        var worker = _workers[(int)((uint)Interlocked.Increment(ref _nextWorker) % (uint)_workers.Length)];
        var registration = new EpollEvent { Events = EpollIn, Data = (id << 8) | (uint)worker.Index };
        if (EpollCtl(worker.EpollFd, EpollCtlAdd, (int)socket.SafeHandle.DangerousGetHandle(), ref registration) != 0)
        {
            _endpoints.TryRemove(id, out _);
            throw new SocketException(Marshal.GetLastPInvokeError());
        }

        return registration.Data;
    }

    /// <summary>Stops delivering; called before the socket is closed, so a late event finds no endpoint and is dropped.</summary>
    public void Remove(ulong registration, Socket socket)
    {
        _endpoints.TryRemove(registration >> 8, out _);
        var unused = default(EpollEvent);
        _ = EpollCtl(_workers[(int)(registration & 0xFF)].EpollFd, EpollCtlDel, (int)socket.SafeHandle.DangerousGetHandle(), ref unused);
    }

    public void Dispose()
    {
        _stopping = true;
        foreach (var worker in _workers)
        {
            worker.Join();
        }

        foreach (var worker in _workers)
        {
            Close(worker.EpollFd);
        }
    }

    /// <summary>One non-blocking read into <paramref name="buffer"/>; the datagram's length, or -1 when none is waiting.</summary>
    public static int Receive(Socket socket, Span<byte> buffer, SocketAddress source)
    {
        var added = false;
        var handle = socket.SafeHandle;
        try
        {
            // Holds the descriptor open: a socket disposed meanwhile is closed after this read, not under it.
            handle.DangerousAddRef(ref added);
            var size = source.Buffer.Length;
            var length = RecvFrom((int)handle.DangerousGetHandle(), ref MemoryMarshal.GetReference(buffer), buffer.Length, MsgDontWait,
                ref MemoryMarshal.GetReference(source.Buffer.Span), ref size);
            if (length < 0)
            {
                return -1;
            }

            source.Size = size;
            return (int)length;
        }
        catch (ObjectDisposedException)
        {
            return -1;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate1(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollCtl(int epfd, int op, int fd, ref EpollEvent ev);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int EpollWait(int epfd, ref EpollEvent events, int maxEvents, int timeout);

    [LibraryImport("libc", EntryPoint = "recvfrom", SetLastError = true)]
    private static partial nint RecvFrom(int fd, ref byte buffer, nint length, int flags, ref byte address, ref int addressLength);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    // struct epoll_event is packed on x86-64: 12 bytes, the data at offset 4.
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    private struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    private sealed class Worker
    {
        private readonly ReceivePoller _owner;
        private readonly Thread _thread;

        public Worker(ReceivePoller owner, int epollFd, int index)
        {
            _owner = owner;
            EpollFd = epollFd;
            Index = index;
            _thread = new Thread(Run) { IsBackground = true, Name = $"rtp-receive-{index}" };
            _thread.Start();
        }

        public int EpollFd { get; }

        public int Index { get; }

        public void Join() => _thread.Join();

        private void Run()
        {
            var events = new EpollEvent[MaxEvents];
            var buffer = GC.AllocateUninitializedArray<byte>(RtpEndpoint.MaxDatagramSize + 1, pinned: true);
            var v4 = new SocketAddress(AddressFamily.InterNetwork);
            var v6 = new SocketAddress(AddressFamily.InterNetworkV6);
            while (!_owner._stopping)
            {
                var ready = EpollWait(EpollFd, ref events[0], MaxEvents, WaitMilliseconds);
                if (ready < 0)
                {
                    if (Marshal.GetLastPInvokeError() == Eintr) continue;
                    return;
                }

                for (var i = 0; i < ready; i++)
                {
                    if (_owner._endpoints.TryGetValue(events[i].Data >> 8, out var endpoint))
                    {
                        endpoint.OnReadable(buffer, endpoint.LocalEndPoint.AddressFamily == AddressFamily.InterNetwork ? v4 : v6);
                    }
                }
            }
        }
    }
}
