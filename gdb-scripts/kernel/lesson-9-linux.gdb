# kernel: bzimage
# cmdline: console=ttyS0
# timeout: 900
# quotes-from: rig
# serial: kvmstub-l2: inserted dummy
# serial: kvmstub-l2 # 
# expect: Breakpoint 2, start_kernel () at init/main.c
# varies: kernel text at 0xffffffff[0-9a-f]+ \(guest-physical 0x[0-9a-f]+\), linked at 0xffffffff81000000: KASLR slide 0x[0-9a-f]+
# varies: gdb: symbol-file vmlinux -o 0x[0-9a-f]+ \(a gdb that connects now is told by qOffsets: TextSeg=0xffffffff[0-9a-f]+\)
# varies: kernel-symbols: vmlinux at slide 0x[0-9a-f]+ \(\.data\.\.percpu unmoved\)
# varies: \(lx-symbols: vmlinux reloaded at slide 0x[0-9a-f]+, \.data\.\.percpu unmoved\)
# varies: 0xffffffff[0-9a-f]+ in \?\? \(\)
# varies: #0 0xffffffff[0-9a-f]+ in copy_bootdata \(real_mode_data=0xffff888000007000 ""\) at arch/x86/kernel/head64\.c:456
# varies: Hardware assisted breakpoint 2 at 0xffffffff[0-9a-f]+: file init/main\.c, line 913\.
# varies: #1 0xffffffff[0-9a-f]+ in secondary_startup_64 \(\) at /build/reproducible-path/linux-6\.1\.[0-9]+/arch/x86/kernel/head_64\.S:358
# varies: Linux version 6\.1\.0-[0-9]+-cloud-amd64 \(debian-kernel@lists\.debian\.org\) .*
# varies: scanning for modules in /.*/kernel-gdb/[^/]+/modules
# varies: loading @0xffffffffc[0-9a-f]+: /.*/kernel-gdb/[^/]+/modules/dummy\.ko
# varies: Breakpoint 3, dummy_get_stats64 \(dev=0x[0-9a-f]+, stats=0x[0-9a-f]+\) at drivers/net/dummy\.c:55
# varies: #0 dummy_get_stats64 \(dev=0x[0-9a-f]+, stats=0x[0-9a-f]+\) at drivers/net/dummy\.c:55
# varies: #1 0xffffffff[0-9a-f]+ in dev_get_stats \(dev=dev@entry=0x[0-9a-f]+, storage=storage@entry=0x[0-9a-f]+\) at net/core/dev\.c:[0-9]+
# varies: #2 0xffffffff[0-9a-f]+ in rtnl_fill_stats \(skb=skb@entry=0x[0-9a-f]+, dev=dev@entry=0x[0-9a-f]+\) at net/core/rtnetlink\.c:[0-9]+
# varies: 0xffffffffc[0-9a-f]+ dummy 16384 1
# varies: \[ *[0-9]+\.[0-9]+\] Linux version 6\.1\..*
# varies: \[ *[0-9]+\.[0-9]+\] Command line: console=ttyS0
# varies: \[ *[0-9]+\.[0-9]+\] Run /init as init process
# varies: 0xffffffff[0-9a-f]{8} 0 swapper/0
# varies: 0xffff[0-9a-f]{12} 1 init
# varies: 0xffff[0-9a-f]{12} 2 kthreadd
# Lesson 9 (examples/lesson-9-linux/LESSON.md): Debian's kernel as shipped, KASLR on, from its first instruction
# to a shell prompt; the kernel's own gdb scripts; a module. Quotes taken in the nested rig (architectural KVM).
x/3i $pc
info symbol $pc
awatch *(unsigned int *)0xffff888000007228
continue
info symbol $pc
monitor kaslr
kaslr
info symbol $pc
p &current_task
bt 1
delete
hbreak start_kernel
continue
bt
expect_eq $pc start_kernel "start_kernel at link address + slide"
kernel-gdb-scripts
lx-version
p $lx_current().pid
p $lx_current().comm
kernel-lx-symbols
set breakpoint pending on
break dummy_get_stats64
continue
bt 3
expect_eq $pc dummy_get_stats64 "in the module"
lx-lsmod
p $lx_current().comm
delete
wait-console "kvmstub-l2 # " 600
lx-dmesg
lx-ps
kill
