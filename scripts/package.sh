#!/bin/sh
# Builds switchboard_<version>_<arch>.deb: a framework-dependent publish (needs the ASP.NET Core 10 runtime, `dotnet`
# on PATH or in /usr/share/dotnet), a systemd unit (Type=notify, user switchboard, state in /var/lib/switchboard) and
# the commented example configuration as /etc/switchboard/switchboard.json (a conffile: upgrades keep local edits).
# Usage: scripts/package.sh [OUTPUT-DIR]   (default: ./artifacts)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mkdir -p "${1:-$ROOT/artifacts}" && cd "${1:-$ROOT/artifacts}" && pwd)
VERSION=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$ROOT/src/Switchboard/Switchboard.csproj" | head -n1)
VERSION=${VERSION:-1.0.0}
ARCH=$(dpkg --print-architecture)
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
chmod 0755 "$STAGE"

dotnet publish "$ROOT/src/Switchboard/Switchboard.csproj" -c Release --no-self-contained -p:UseAppHost=false \
    -o "$STAGE/usr/lib/switchboard" >&2
rm -f "$STAGE"/usr/lib/switchboard/*.pdb

install -d "$STAGE/usr/bin" "$STAGE/etc/switchboard" "$STAGE/lib/systemd/system" "$STAGE/usr/share/doc/switchboard" "$STAGE/DEBIAN"
cat > "$STAGE/usr/bin/switchboard" <<'WRAP'
#!/bin/sh
# The runtime from PATH, else the usual install location.
DOTNET=$(command -v dotnet || echo /usr/share/dotnet/dotnet)
exec "$DOTNET" /usr/lib/switchboard/switchboard.dll "$@"
WRAP
chmod 755 "$STAGE/usr/bin/switchboard"
install -m 0640 "$ROOT/packaging/switchboard.json" "$STAGE/etc/switchboard/switchboard.json"
install -m 0644 "$ROOT/packaging/switchboard.service" "$STAGE/lib/systemd/system/switchboard.service"
install -m 0644 "$ROOT/README.md" "$STAGE/usr/share/doc/switchboard/README.md"
install -m 0755 "$ROOT/packaging/debian/postinst" "$ROOT/packaging/debian/prerm" "$ROOT/packaging/debian/postrm" "$STAGE/DEBIAN/"
echo /etc/switchboard/switchboard.json > "$STAGE/DEBIAN/conffiles"
SIZE=$(du -sk "$STAGE" | cut -f1)
cat > "$STAGE/DEBIAN/control" <<CONTROL
Package: switchboard
Version: $VERSION
Architecture: $ARCH
Maintainer: Switchboard <dev@switchboard.invalid>
Installed-Size: $SIZE
Depends: adduser | passwd
Section: comm
Priority: optional
Description: CTI server with a built-in SIP switch
 Switchboard serves the TAPIMaster IP-interface command language in front of
 its built-in SIP switch/B2BUA, an Asterisk (AMI) or a simulation. Needs the
 ASP.NET Core 10 runtime (dotnet). Control with: switchboard ctl status
CONTROL
# The configuration names the database and SIP passwords: readable by root and the service's group only.
dpkg-deb --root-owner-group --build "$STAGE" "$OUT/switchboard_${VERSION}_${ARCH}.deb" >&2
echo "$OUT/switchboard_${VERSION}_${ARCH}.deb"
