# guest: arm64/sve
# run: --sve-vl 128
# gdb: gdb-multiarch
# source: lib/arm64.py
# exit: 0
# serial: vl=128 bits
# serial: z0.b[15]=0x5a z0 sum=345
# serial: z31.b[15]=0xf
# serial: p15=0x5555 ffr=0xf (their first 64 bits)
# expect: {85, 85}
# SVE at 128 bits (kvmstub run --sve-vl 128): the guest asks for 2048 (ZCR_EL1.LEN = 15) and gets the vCPU's
# maximum, 128 bits; the same session as sve-2048.gdb with 16-byte z registers and 2-byte p registers.
expect_eq $vg 2 "vg = 2 at reset"
break park
continue
expect_eq $pc park "parked, with z0/z31/p15/FFR loaded"
delete
reattach
expect_eq $ZCR_EL1&0xf 15 "ZCR_EL1.LEN = 15, as the guest set it"
expect_eq $vg 2 "vg = 2 (128 bits)"
p $vg
expect_eq sizeof($z31) 16 "z registers are 16 bytes"
expect_eq sizeof($p15) 2 "p registers are 2 bytes"
expect_eq sizeof($ffr) 2 "ffr is 2 bytes"
p $z31.b.u
expect_eq $z31.b.u[0] 0 "z31.b[0] = 0"
expect_eq $z31.b.u[15] 15 "z31.b[15] = 15 (index z31.b, #0, #1)"
expect_eq $z0.b.u[15] 0x11 "z0.b[15] = 0x11 (dup z0.b, #0x11)"
expect_eq $z0.d.u[1] 0x1111111111111111 "z0.d[1]: the last doubleword"
p $p15
expect_eq $p15[1] 0x55 "p15's last byte (ldr p15)"
p/x $ffr
expect_eq $ffr[0] 0xff "FFR: the first 8 lanes true (ptrue p1.b, vl8; wrffr)"
expect_eq $ffr[1] 0 "and the rest false"
set $z0.b.u[15] = 0x5a
set $ffr[0] = 0x0f
expect_eq $z0.b.u[15] 0x5a "z0.b[15] written"
set var released = 1
continue
