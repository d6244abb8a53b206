#!/bin/bash
# Build the bench's Linux peer from Debian packages only: Debian's cloud kernel and an
# initramfs in which busybox-static's sh runs bench/linux/init, which loads the virtio-mmio
# network modules, configures eth0 and starts Debian's nginx serving the site.
#   scripts/bench/build-linux-peer.sh [SITE]     (default: site/, or $SITE)
# Outputs, under build/bench/linux/:
#   vmlinuz               the kernel of linux-image-cloud-amd64 (the versioned package)
#   initramfs.cpio.gz     /init, busybox, nginx and the libraries it links, the modules,
#                         /etc/nginx/{nginx.conf,mime.types}, the site at /srv/site
#   debs/                 the .deb cache (apt-get download; never installed on the host)
#   root/                 every package extracted with dpkg-deb -x
#   initramfs/            the initramfs tree, only what the guest needs
#   tsc-khz               this host's TSC rate, for the guest's tsc_early_khz= under TCG
# Needs apt-get (a one-time `apt-get update` when the package lists are missing), gzip,
# binutils (objcopy reads module dependencies), gcc (scripts/bench/tsc-khz.c); run as
# root for /dev/console in the image and the chrooted `nginx -t`. Idempotent: downloads
# are cached, the extraction redone only when the set of .debs changes, the initramfs
# rebuilt every run (~6 s) so a changed SITE always reaches it.
# Boot it with scripts/bench/run-linux-peer.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
SITE=${1:-${SITE:-site}}
OUT=build/bench/linux
DEBS=$OUT/debs
ROOT=$OUT/root
STAGE=$OUT/initramfs
[ -d "$SITE" ] || { echo "linux-peer: no site directory $SITE" >&2; exit 1; }
mkdir -p "$DEBS"

say() { echo "linux-peer: $*"; }
known() { apt-cache show "$1" >/dev/null 2>&1; }
# apt-get download as root warns that _apt cannot write here; the file is ours anyway.
download() { (cd "$DEBS" && apt-get -q -o APT::Sandbox::User=root download "$@"); }

# Which packages: the versioned kernel image that linux-image-cloud-amd64 depends on,
# busybox-static, nginx (Debian 12's nginx holds the binary; nginx-common its mime.types)
# and the library packages in nginx's Depends closure (through lib* packages only: the
# other dependencies, iproute2 and nginx-common's, are not what the binary links). The
# list is kept in debs/packages so a later run works from the cache without apt lists.
if ! known linux-image-cloud-amd64 && [ ! -s "$DEBS/packages" ]; then
    say "apt-get update (no package lists yet)"
    apt-get -q update
fi
if known linux-image-cloud-amd64; then
    # The Depends of every package named (apt-cache takes a while to start: one call per
    # level of the closure, not per package).
    depends() {
        apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
            --no-replaces --no-enhances "$@" | awk '$1 == "Depends:" && $2 !~ /^</ { print $2 }'
    }
    kernel=$(depends linux-image-cloud-amd64 | grep '^linux-image-' | head -n1)
    libs=()
    level=(nginx)
    while [ ${#level[@]} -gt 0 ]; do
        next=()
        for d in $(depends "${level[@]}" | grep -E '^(lib|zlib)' | sort -u); do
            case " ${libs[*]} " in *" $d "*) ;; *) libs+=("$d") next+=("$d") ;; esac
        done
        level=("${next[@]}")
    done
    printf '%s\n' "$kernel" busybox-static nginx nginx-common "${libs[@]}" >"$DEBS/packages.new"
    mv "$DEBS/packages.new" "$DEBS/packages"
fi
mapfile -t pkgs <"$DEBS/packages"
kernel=${pkgs[0]}

# Download what the cache lacks. A cached .deb of any version counts: delete debs/ to
# pick up newer ones.
missing=()
for p in "${pkgs[@]}"; do
    compgen -G "$DEBS/${p}_*.deb" >/dev/null || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "apt-get download ${missing[*]}"
    download "${missing[@]}" || { apt-get -q update && download "${missing[@]}"; }
fi
debs=()
for p in "${pkgs[@]}"; do
    debs+=("$(find "$DEBS" -maxdepth 1 -name "${p}_*.deb" | sort -V | tail -n1)")
done

# Extract every package into root/ (never onto the host's /).
if [ "$(cat "$ROOT.list" 2>/dev/null)" != "$(printf '%s\n' "${debs[@]}")" ]; then
    say "extracting ${#debs[@]} packages into $ROOT"
    rm -rf "$ROOT" "$ROOT.list"
    mkdir -p "$ROOT"
    for d in "${debs[@]}"; do dpkg-deb -x "$d" "$ROOT"; done
    printf '%s\n' "${debs[@]}" >"$ROOT.list"
fi

kver=${kernel#linux-image-}
[ -f "$ROOT/boot/vmlinuz-$kver" ] || { echo "linux-peer: no vmlinuz-$kver in $kernel" >&2; exit 1; }
cp "$ROOT/boot/vmlinuz-$kver" "$OUT/vmlinuz"

# The initramfs tree, from scratch each time.
rm -rf "$STAGE"
mkdir -p "$STAGE"/{bin,usr/sbin,etc/nginx,lib64,lib/modules,proc,sys,dev,run,tmp,srv} \
    "$STAGE"/var/{lib/nginx,log/nginx}
chmod 1777 "$STAGE/tmp"
install -m 755 bench/linux/init "$STAGE/init"

# busybox and a link per applet.
cp "$ROOT/bin/busybox" "$STAGE/bin/busybox"
for a in $("$ROOT/bin/busybox" --list); do
    [ "$a" = busybox ] || ln -s busybox "$STAGE/bin/$a"
done

# nginx and exactly the libraries it links, as the extracted tree's own loader resolves
# them (--list with a library path of root/ only, so a library missing from the packages
# fails here instead of silently coming from the host).
cp "$ROOT/usr/sbin/nginx" "$STAGE/usr/sbin/nginx"
ldso=lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
root_abs=$PWD/$ROOT
libpath="$root_abs/lib/x86_64-linux-gnu:$root_abs/usr/lib/x86_64-linux-gnu"
listing=$("$root_abs/$ldso" --library-path "$libpath" --list "$root_abs/usr/sbin/nginx")
if grep -q 'not found' <<<"$listing"; then
    echo "linux-peer: nginx links libraries no package here provides:" >&2
    grep 'not found' <<<"$listing" >&2
    exit 1
fi
mkdir -p "$STAGE/lib/x86_64-linux-gnu" "$STAGE/usr/lib/x86_64-linux-gnu"
cp -L "$ROOT/$ldso" "$STAGE/$ldso"
ln -s "/$ldso" "$STAGE/lib64/ld-linux-x86-64.so.2"
awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' <<<"$listing" | while read -r soname path; do
    [[ $soname == */ld-linux-x86-64.so.2 ]] && continue
    rel=${path#"$root_abs"/}
    rel=${rel%/*}
    cp -L "$path" "$STAGE/$rel/$soname"
done

# nginx's configuration, the user its worker runs as, the site.
install -m 644 bench/linux/nginx.conf "$STAGE/etc/nginx/nginx.conf"
cp "$ROOT/etc/nginx/mime.types" "$STAGE/etc/nginx/mime.types"
printf 'root:x:0:0:root:/:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/false\n' \
    >"$STAGE/etc/passwd"
printf 'root:x:0:\nwww-data:x:33:\n' >"$STAGE/etc/group"
cp -rL "$SITE" "$STAGE/srv/site"
chmod -R a+rX "$STAGE/srv/site"

# The modules virtio-mmio networking needs, with their dependencies first (the .modinfo
# section's depends= field; there is no modules.dep until depmod runs on an install).
moddir=$ROOT/lib/modules/$kver
modpath() { find "$moddir/kernel" -name "$1.ko" -o -name "${1//_/-}.ko" | head -n1; }
loaded=()
add_module() {
    local m=$1 ko dep
    case " ${loaded[*]} " in *" $m "*) return ;; esac
    ko=$(modpath "$m")
    [ -n "$ko" ] || { echo "linux-peer: no module $m in $kernel" >&2; exit 1; }
    for dep in $(objcopy -O binary --only-section=.modinfo "$ko" /dev/stdout |
        tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' '); do
        add_module "$dep"
    done
    cp "$ko" "$STAGE/lib/modules/$m.ko"
    loaded+=("$m")
}
for m in virtio_mmio virtio_net; do
    if grep -q "^CONFIG_${m^^}=m" "$ROOT/boot/config-$kver"; then add_module "$m"; fi
done
printf '%s\n' "${loaded[@]}" >"$STAGE/lib/modules/load"

# The console node, so the kernel can give /init its stdio (root only; else /init
# opens it from devtmpfs itself).
[ "$(id -u)" = 0 ] && mknod -m 600 "$STAGE/dev/console" c 5 1

# Check the result before booting it: nginx reads its configuration inside the tree.
if [ "$(id -u)" = 0 ]; then
    chroot "$STAGE" /usr/sbin/nginx -t -q || { echo "linux-peer: nginx -t failed" >&2; exit 1; }
    rm -f "$STAGE/run/nginx.pid"
fi

# Under TCG the guest needs the host's TSC rate given (see scripts/bench/tsc-khz.c):
# measured once here, read by run-linux-peer.sh.
gcc -std=c11 -O2 -Wall -Wextra -Werror -o build/bench/tsc-khz scripts/bench/tsc-khz.c
build/bench/tsc-khz >"$OUT/tsc-khz"

(cd "$STAGE" && find . -mindepth 1 | LC_ALL=C sort |
    "$OLDPWD/$ROOT/bin/busybox" cpio -o -H newc -R 0:0 2>/dev/null) |
    gzip -9n >"$OUT/initramfs.cpio.gz.new"
mv "$OUT/initramfs.cpio.gz.new" "$OUT/initramfs.cpio.gz"
say "$kernel, modules: ${loaded[*]:-none}"
say "host TSC $(cat "$OUT/tsc-khz") kHz"
say "built $OUT/vmlinuz ($(stat -c %s "$OUT/vmlinuz") bytes)," \
    "$OUT/initramfs.cpio.gz ($(stat -c %s "$OUT/initramfs.cpio.gz") bytes), site $SITE"
