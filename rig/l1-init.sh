#!/bin/busybox sh
# /init of the rig's L1 (busybox userland): mounts, loads the modules listed in /etc/rig/modules in order
# ("PATH [PARAMS]" a line), brings up QEMU's user network (10.0.2.15/24, gateway 10.0.2.2), runs
# /etc/rig/rc.local when the initramfs has one, and serves the agent on the port in /etc/rig/agent-port.
# Every step says what it did on the console (ttyS0), which the rig script keeps as console.log.
/bin/busybox --install -s /bin
export PATH=/usr/local/bin:/bin:/usr/bin:/sbin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /tmp /run
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
say() { echo "rig-l1: $*"; }
say "kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPU(s), $(grep -o -m1 -w svm /proc/cpuinfo || echo no-svm)"
say "vendor $(sed -n 's/^vendor_id[^:]*: //p' /proc/cpuinfo | head -1)"
while read -r mod params; do
    [ -n "$mod" ] || continue
    if insmod "$mod" $params; then say "loaded $(basename "$mod") $params"; else say "FAILED to load $mod"; fi
done </etc/rig/modules
[ -e /dev/kvm ] && say "/dev/kvm present" || say "no /dev/kvm"
for p in /sys/module/kvm_amd/parameters/npt /sys/module/kvm_amd/parameters/nrips /sys/module/kvm_amd/parameters/nested; do
    [ -e "$p" ] && say "$(basename "$p")=$(cat "$p")"
done
ip link set lo up
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2 &&
    say "eth0 10.0.2.15" || say "FAILED to bring up eth0"
[ -x /etc/rig/rc.local ] && /etc/rig/rc.local
say "agent on port $(cat /etc/rig/agent-port)"
while true; do
    agent "$(cat /etc/rig/agent-port)"
    say "agent exited ($?), restarting"
    sleep 1
done
