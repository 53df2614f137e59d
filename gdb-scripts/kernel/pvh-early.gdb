# kernel: pvh
# cmdline: console=ttyS0 earlyprintk=serial,ttyS0,115200 nokaslr
# timeout: 900
# expect: Breakpoint 1, start_kernel () at init/main.c
# expect: KASLR slide 0x0
# expect: Linux version 6.1.
# The early boot on any host, kvm_pvm too (where every kernel instruction is emulated and the boot reaches
# userspace only after many minutes): the ELF vmlinux entered at its PVH note (never randomised), start_kernel,
# then the kernel's own gdb helpers once setup_arch and the per-CPU areas are done (trap_init).
set pagination off
hbreak start_kernel
continue
elapsed start_kernel
expect_eq $pc start_kernel "hbreak start_kernel"
kaslr
expect_eq $kaslr_slide 0 "a PVH boot is not randomised"
kernel-gdb-scripts
expect-output "lx-version" "^Linux version 6\.1\." "lx-version"
delete
hbreak trap_init
continue
elapsed trap_init
expect_eq $pc trap_init "hbreak trap_init"
expect-output "lx-dmesg" "Command line: console=ttyS0 earlyprintk=serial,ttyS0,115200 nokaslr" "lx-dmesg"
expect-output "lx-cpus" "Possible CPUs : \[0\]" "lx-cpus"
expect_eq $lx_current().pid 0 "$lx_current(): the boot CPU's idle task, pid 0"
expect-output "lx-ps" "^0x[0-9a-f]+ +0 +swapper$" "lx-ps: only the boot task, not yet renamed swapper/0"
expect-output "lx-lsmod" "Address +Module +Size +Used by" "lx-lsmod (no modules yet)"
expect_eq $lx_per_cpu("cpu_number",0) 0 "$lx_per_cpu(cpu_number, 0)"
expect_eq $lx_per_cpu("this_cpu_off") $gs_base "$lx_per_cpu: the per-CPU base is gs_base"
kill
