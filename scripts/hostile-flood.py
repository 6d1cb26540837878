# OPTIONS flood with unique branches (each a new server transaction), or garbage, or Monitor * on a non-reading TCP connection.
import socket, sys, time, os
mode, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
if mode == "options":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    s.bind(("127.0.0.2", 0))
    lport = s.getsockname()[1]
    s.setblocking(False)
    tmpl = ("OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:%d;rport;branch=z9hG4bK%%08x\r\nFrom: <sip:a@h>;tag=1\r\n"
            "To: <sip:b@h>\r\nCall-ID: %%08x@flood\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n" % lport)
    n = 0; end = time.time() + seconds; dst = ("127.0.0.1", port)
    while time.time() < end:
        for _ in range(1000):
            try: s.sendto((tmpl % (n, n)).encode(), dst); n += 1
            except BlockingIOError: pass
        try:
            while True: s.recv(65536)
        except BlockingIOError: pass
    print("sent", n, "rate", int(n / seconds))
elif mode == "garbage":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.2", 0)); s.setblocking(False)
    n = 0; end = time.time() + seconds; pkt = b"\x1b[2J GARBAGE \x00\xff\r\nX: y\r\n\r\n"
    while time.time() < end:
        for _ in range(1000):
            try: s.sendto(pkt, ("127.0.0.1", port)); n += 1
            except BlockingIOError: pass
    print("sent", n)
elif mode == "monitor":
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096); s.connect(("127.0.0.1", port))
    s.sendall(b"Monitor *\r\n" * 10000)
    c = socket.socket(); c.connect(("127.0.0.1", port)); c.settimeout(5)
    end = time.time() + seconds; k = 0
    while time.time() < end:
        c.sendall(b"MakeCall 100 101\r\nDrop 100\r\n"); c.recv(4096); k += 1
    print("call cycles", k)
