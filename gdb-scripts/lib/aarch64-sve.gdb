# SVE checks for the gdb-multiarch scripts against `kvmstub fake-target --arch arm64 --sve-vl VL`:
# `sve_checks VL` after lib/check.gdb and lib/roundtrip.py. (gdb's z registers are unions of unions:
# a byte is $z31.b.u[i], not $z31.b[i], which gdb refuses to subscript.)
define sve_checks
  expect_eq $vg $arg0/64 "vg is VL/64"
  p $vg
  expect_eq sizeof($z0) $arg0/8 "z registers are VL/8 bytes"
  expect_eq sizeof($p15) $arg0/64 "p registers are VL/64 bytes"
  expect_eq sizeof($ffr) $arg0/64 "ffr is VL/64 bytes"
  set $z31.b.u[$arg0/8-1] = 0xab
  expect_eq $z31.b.u[$arg0/8-1] 0xab "the last byte of z31 written"
  p $z31.b.u[$arg0/8-1]
  set $z0.d.u[$arg0/64-1] = 0x1122334455667788
  expect_eq $z0.d.u[$arg0/64-1] 0x1122334455667788 "the last doubleword of z0 written"
  p/x $z0.d.u[$arg0/64-1]
  set $p15[$arg0/64-1] = 0x5a
  expect_eq $p15[$arg0/64-1] 0x5a "the last byte of p15 written"
  p $p15
  set $ffr[0] = 0xff
  expect_eq $ffr[0] 0xff "ffr written"
  p/x $ffr
  set $x7 = 0x7777777777777777
  expect_eq $x7 0x7777777777777777 "x7 written"
  set $fpcr = 0x3000000
  stepi
  expect_eq $pc 0x10004 "stepi moved pc by 4"
  expect_eq $x7 0x7777777777777777 "x7 survives a step (flushed to the fake kernel, read back)"
  expect_eq $z0.d.u[$arg0/64-1] 0x1122334455667788 "z0 survives a step"
  expect_eq $z31.b.u[$arg0/8-1] 0xab "z31 survives a step"
  expect_eq $p15[$arg0/64-1] 0x5a "p15 survives a step"
  expect_eq $ffr[0] 0xff "ffr survives a step"
  expect_eq $fpcr 0x3000000 "fpcr survives a step"
  expect_eq $sp $SP_EL1 "at EL1h gdb's sp is SP_EL1"
  expect_true ($sp!=$SP_EL0) "and not KVM's regs.sp (SP_EL0)"
  set $cpsr = 0x3c4
  maint flush register-cache
  expect_eq $sp $SP_EL0 "at EL1t gdb's sp is SP_EL0"
  set $cpsr = 0x3c5
  maint flush register-cache
  expect_eq $sp 0x20000 "back at EL1h: SP_EL1 again"
  expect_eq $MIDR_EL1 0x410fd083 "MIDR_EL1 from KVM_GET_REG_LIST's system registers"
  set $TPIDR_EL1 = 0xfeed
  expect_eq $TPIDR_EL1 0xfeed "a system register written"
  info registers
  # gdb derives v0-v31, q, d, s, h, b (32 each) and w0-w30 from an SVE description: 223 pseudo-registers.
  python check_register_list(aarch64_names(True), pseudo=223)
  python roundtrip_p(aliases={"sp": "SP_EL1"})
  python roundtrip_g(["org.gnu.gdb.aarch64.core", "org.gnu.gdb.aarch64.sve"])
  monitor sync-stats
end
