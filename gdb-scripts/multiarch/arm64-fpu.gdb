# fake-target: arm64
# gdb: gdb-multiarch
# source: lib/roundtrip.py
# exit: 0
# expect: g packet: 788 bytes
# gdb-multiarch against a FAKE arm64 kernel without SVE: aarch64-core + aarch64-fpu (v0-v31 are the kernel's
# core vregs, U128), and every register through p/P and g/G.
expect_eq $pc 0x10000 "pc at the start of the fake RAM"
set $v31.d.u[1] = 0x0123456789abcdef
expect_eq $v31.d.u[1] 0x0123456789abcdef "v31's high doubleword written"
p/x $v31.d.u
set $fpsr = 0x8000001f
set $x30 = 0x3030
stepi
expect_eq $v31.d.u[1] 0x0123456789abcdef "v31 survives a step"
expect_eq $fpsr 0x8000001f "fpsr survives a step"
expect_eq $x30 0x3030 "x30 survives a step"
expect_eq $sp $SP_EL1 "at EL1h gdb's sp is SP_EL1"
# gdb derives q, d, s, h, b (32 each) and w0-w30 from aarch64-fpu: 191 pseudo-registers.
python check_register_list(aarch64_names(False), pseudo=191)
python roundtrip_p(aliases={"sp": "SP_EL1"})
python roundtrip_g(["org.gnu.gdb.aarch64.core", "org.gnu.gdb.aarch64.fpu"])
break *0x10040
continue
expect_eq $pc 0x10040 "continue stops at the breakpoint (the fake vCPU ran to the trap kvmstub planted)"
expect_eq {unsigned}0x10040 0xd503201f "memory shows the original instruction, not the trap"
delete
kill
