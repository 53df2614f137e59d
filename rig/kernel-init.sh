#!/bin/busybox sh
# /init of the initramfs that scripts/kernel-gdb.sh builds for the kernel under kvmstub (a developer's session:
# gdb-scripts/kernel/, examples/lesson-8-linux). Each step prints a "kvmstub-l2:" line on the console (ttyS0)
# with the kernel's uptime, so a script can tell how far the boot got:
#   init          this script started (the kernel is done booting)
#   inserted M    insmod /lib/modules/M.ko worked (each module in /lib/modules, in name order)
#   d0 up         a dummy device of ours exists and is up; from now on a loop reads its statistics every second,
#                 which calls into the module (dummy_get_stats64), so a breakpoint there keeps being hit (the
#                 module's init already calls it once, registering its own dummy0)
#   prompt        then an interactive shell on the console (its prompt: "kvmstub-l2 # ")
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say() { echo "kvmstub-l2: $* (uptime $(cut -d' ' -f1 /proc/uptime) s)"; }
say "init"
for m in /lib/modules/*.ko; do
    [ -e "$m" ] || continue
    if insmod "$m"; then say "inserted $(basename "$m" .ko)"; else say "FAILED to insert $m"; fi
done
if [ -d /sys/module/dummy ]; then
    ip link add d0 type dummy && ip link set d0 up && say "d0 up"
    (while :; do cat /sys/class/net/d0/statistics/tx_packets >/dev/null; sleep 1; done) &
fi
say "prompt"
export PS1='kvmstub-l2 # '
sh -i
say "shell ended"
while :; do sleep 3600; done
