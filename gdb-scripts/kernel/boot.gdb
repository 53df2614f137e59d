# kernel: bzimage
# cmdline: console=ttyS0
# timeout: 900
# serial: kvmstub-l2: inserted dummy
# serial: kvmstub-l2 # 
# expect: copy_bootdata + 
# expect: KASLR slide 0x
# expect: Breakpoint 2, start_kernel () at init/main.c
# expect: Linux version 6.1.
# expect: kernel_init (unused=
# expect: loading @0xffffffffc
# expect: dummy_get_stats64 (dev=
# expect: Run /init as init process
# expect: Hardware read watchpoint 6: system_state
# Debian's cloud kernel as shipped (bzImage, KASLR on) booted to a shell prompt with gdb attached from the first
# instruction, then the kernel's own gdb helpers (vmlinux-gdb.py) with the -dbg vmlinux; QEMU's gdbstub test for a
# kernel done here (step the boot code, hbreak kernel_init, break wait_for_completion, awatch/rwatch/watch on
# system_state); lx-symbols and a breakpoint in a module. Needs data breakpoints (architectural KVM: the rig).
set pagination off
elapsed connected-at-entry
# The bzImage's 64-bit entry (its decompressor): no symbols here, the kernel is still compressed.
expect_eq $pc 0x1000200 "stopped at the bzImage's 64-bit entry"
x/3i $pc
stepi
stepi
expect_eq $pc 0x1000202 "two steps through the decompressor (cld, cli)"
# Where will the kernel be? The decompressor picks a random slide (KASLR). The first thing the kernel reads through
# its own mappings is its boot parameters (copy_bootdata): the zero page kvmstub put at 0x7000, seen through the
# direct map, which is at its default base until setup_arch randomises it. An access watchpoint there (a debug
# register) stops the kernel before start_kernel, with its text mapped: `monitor kaslr` then finds the slide.
awatch *(unsigned int *)0xffff888000007228
continue
elapsed boot-parameters-read
kaslr
expect_true $kaslr_slide%0x200000==0 "the slide is a multiple of 2 MiB"
expect-output "info symbol $pc" "^copy_bootdata \+ " "the kernel read its boot parameters in copy_bootdata"
delete
hbreak start_kernel
continue
elapsed start_kernel
expect_eq $pc start_kernel "hbreak start_kernel at link address + slide"
bt
kernel-gdb-scripts
expect-output "lx-version" "^Linux version 6\.1\." "lx-version"
# QEMU's gdbstub test for a kernel (tests/guest-debug), here: hbreak kernel_init, break wait_for_completion,
# then the three kinds of watchpoint on system_state.
hbreak kernel_init
continue
elapsed kernel_init
expect_eq $pc kernel_init "hbreak kernel_init"
expect_eq $lx_current().pid 1 "$lx_current(): kernel_init runs as pid 1"
delete
break wait_for_completion
continue
expect_eq $pc wait_for_completion "break wait_for_completion (int3 in memory)"
bt 2
monitor breakpoints
delete
set breakpoint always-inserted on
awatch system_state
continue
expect-output "info symbol $pc" "." "awatch system_state hit"
expect-output "monitor breakpoints" "awatch 0x[0-9a-f]+ len 4: DR[0-3]" "awatch is a debug register"
set breakpoint always-inserted off
bt 1
delete
# x86 debug registers cannot trap reads alone: kvmstub serves rwatch by page protection (the page under
# system_state taken out of the guest's memory slots: every access to it exits, and a read of the watched bytes
# stops); `monitor breakpoints` says so.
set breakpoint always-inserted on
rwatch system_state
continue
expect-output "monitor breakpoints" "rwatch 0x[0-9a-f]+ len 4: page protection, phys page 0x" "rwatch served by page protection"
delete
set breakpoint always-inserted off
delete
watch system_state
continue
expect_eq system_state 2 "watch system_state: SYSTEM_FREEING_INITMEM written in kernel_init"
continue
expect_eq system_state 3 "watch system_state: SYSTEM_RUNNING"
delete
# A module: lx-symbols loads vmlinux again (at the slide: lib/kernel.py) and sets its own breakpoint on
# do_init_module, where it loads each new module's symbols; the init inserts Debian's dummy.ko, and a loop reads
# d0's statistics, which calls the module's dummy_get_stats64.
kernel-lx-symbols
set breakpoint pending on
break dummy_get_stats64
continue
elapsed module-breakpoint
expect_eq $pc dummy_get_stats64 "a breakpoint in the module's code, hit"
expect-output "info symbol $pc" "dummy_get_stats64 in section \.text of .*/dummy\.ko" "the module's symbols came from lx-symbols"
bt 3
expect-output "lx-lsmod" "dummy" "lx-lsmod lists the module"
p $lx_current().comm
delete
wait-console "kvmstub-l2 # " 600
elapsed prompt
expect-output "lx-dmesg" "Run /init as init process" "lx-dmesg"
expect-output "lx-ps" " 1 +init$" "lx-ps: pid 1 is init"
expect-output "lx-cpus" "Online CPUs   : \[0\]" "lx-cpus"
expect_eq $lx_per_cpu("cpu_number",0) 0 "$lx_per_cpu(cpu_number, 0)"
expect_eq $lx_per_cpu("this_cpu_off",0) __per_cpu_offset[0] "$lx_per_cpu(this_cpu_off, 0) = __per_cpu_offset[0]"
expect_eq $lx_per_cpu("this_cpu_off") $gs_base "$lx_per_cpu: CPU 0's per-CPU base is its gs_base"
p $lx_current().pid
p $lx_current().comm
kill
