# guest: arm64/sve
# run: --sve-vl 2048
# gdb: gdb-multiarch
# source: lib/arm64.py
# exit: 0
# serial: vl=2048 bits
# serial: z0.b[255]=0x5a z0 sum=4425
# serial: z31.b[255]=0xff
# serial: p15=0x5555555555555555 ffr=0xf (their first 64 bits)
# expect: {85 <repeats 32 times>}
# expect: b = {u = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
# expect: ZCR_EL1 0x0: LEN 0, the guest's effective vector length at EL1 is 128 bits
# expect: ZCR_EL1 0xf: LEN 15, the guest's effective vector length at EL1 is 2048 bits
# expect: ZCR_EL1 0x2: LEN 2, the guest's effective vector length at EL1 is 256 bits
# SVE at 2048 bits on real arm64 KVM. kvmstub's vg is the vector length the vCPU was finalized with (2048 bits:
# vg = 32) from the first stop, while the guest's effective length is still 128 (ZCR_EL1.LEN = 0 at reset).
# The guest raises LEN to 15, loads z0, z31, p15 and FFR and parks; gdb detaches and attaches again (the
# guest runs meanwhile), finds 256-byte z registers holding what the guest loaded, writes the last byte of
# z0 and FFR's 8th byte, and lets the guest go on: what it prints is computed from the registers as gdb left
# them. With ZCR_EL1.LEN = 2 for a moment, `monitor sve` says 256 bits: 384 is not a length this host offers.
expect_eq $vg 32 "vg = 32 at reset: the finalized length, not ZCR_EL1's"
monitor sve
break park
continue
expect_eq $pc park "parked, with z0/z31/p15/FFR loaded"
delete
reattach
expect_eq $ZCR_EL1&0xf 15 "ZCR_EL1.LEN = 15, as the guest set it"
monitor sve
set $ZCR_EL1 = 2
monitor sve
set $ZCR_EL1 = 15
expect_eq $vg 32 "vg = 32 (2048 bits)"
p $vg
expect_eq sizeof($z31) 256 "z registers are 256 bytes"
expect_eq sizeof($p15) 32 "p registers are 32 bytes"
expect_eq sizeof($ffr) 32 "ffr is 32 bytes"
p $z31
expect_eq $z31.b.u[0] 0 "z31.b[0] = 0"
expect_eq $z31.b.u[255] 255 "z31.b[255] = 255 (index z31.b, #0, #1)"
expect_eq $z0.b.u[255] 0x11 "z0.b[255] = 0x11 (dup z0.b, #0x11)"
expect_eq $z0.d.u[31] 0x1111111111111111 "z0.d[31]: the last doubleword"
p $p15
expect_eq $p15[31] 0x55 "p15's last byte (ldr p15)"
p/x $ffr
expect_eq $ffr[0] 0xff "FFR: the first 8 lanes true (ptrue p1.b, vl8; wrffr)"
expect_eq $ffr[1] 0 "and the rest false"
set $z0.b.u[255] = 0x5a
set $ffr[0] = 0x0f
expect_eq $z0.b.u[255] 0x5a "z0.b[255] written"
set var released = 1
continue
