# fake-target: ppc64
# gdb: gdb-multiarch
# source: lib/roundtrip.py
# exit: 0
# expect: g packet: 1336 bytes
# expect: received: "8877665544332211"
# gdb-multiarch against a FAKE ppc64le kernel: power64-core from KVM_GET_REGS, power-fpu (ISA 2.05, 64-bit fpscr)
# and power-vsx from the VSR IDs, power-altivec from the VR IDs; every register through p/P and g/G.
expect_eq $pc 0x10000 "pc at the start of the fake RAM"
expect_eq $r1 0x20000 "r1 (the stack pointer) at the end of it"
set $f3 = 2.5
expect_true ($f3==2.5) "f3 written"
p $f3
set $vr31.v4_int32[3] = 0x31313131
expect_eq $vr31.v4_int32[3] 0x31313131 "vr31 written"
p $vr31
# gdb shows no raw vsNh: it hides them behind the 128-bit vs0-vs31 it builds from fN and vsNh (on little-endian
# vsNh is vsN's low doubleword). So vs5h (remote register 110, 0x6e) is written with P and read with p, and
# seen as $vs5: f5, the other half, stays as it was.
maint packet P6e=8877665544332211
maint flush register-cache
expect_eq $vs5.v4_int32[0] 0x55667788 "vs5h is vs5's low doubleword (low word)"
expect_eq $vs5.v4_int32[1] 0x11223344 "vs5h is vs5's low doubleword (high word)"
expect_true ($f5==0) "f5 (vs5's other half) untouched"
p $vs5
set $vs3.v4_int32[1] = 0x7eadbeef
expect_true ($f3==2.5) "a write to vs3's low half keeps f3"
set $r7 = 0x7777
expect_eq $r7 0x7777 "r7 written"
set $cr = 0x12345678
expect_eq $cr 0x12345678 "cr (32 bits of the kernel's u64)"
set $xer = 0x20000000
stepi
expect_eq $pc 0x10004 "stepi moved pc by 4"
expect_eq $r7 0x7777 "r7 survives a step (KVM_SET_REGS, KVM_GET_REGS)"
expect_eq $cr 0x12345678 "cr survives a step"
expect_eq $xer 0x20000000 "xer survives a step"
expect_true ($f3==2.5) "f3 survives a step"
expect_eq $vs3.v4_int32[1] 0x7eadbeef "vs3h survives a step"
expect_eq $vr31.v4_int32[3] 0x31313131 "vr31 survives a step"
maint packet p6e
info registers
# gdb derives dl0-dl15 (decimal float, from the 64-bit fpscr), vs0-vs63 and f32-f63 (VSX) from these features.
python check_register_list(power64_names(), pseudo=112)
python roundtrip_p()
python roundtrip_g(["org.gnu.gdb.power.core", "org.gnu.gdb.power.fpu", "org.gnu.gdb.power.altivec", "org.gnu.gdb.power.vsx"])
monitor sync-stats
break *0x10040
continue
expect_eq $pc 0x10040 "continue stops at the breakpoint (the fake vCPU ran to the trap kvmstub planted)"
expect_eq {unsigned}0x10040 0x60000000 "memory shows the original instruction, not the trap"
delete
kill
