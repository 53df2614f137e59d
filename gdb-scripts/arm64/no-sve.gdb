# guest: arm64/sve
# run: --no-sve
# gdb: gdb-multiarch
# source: lib/arm64.py
# exit: 1
# serial: unexpected exception: vector 4 esr=0x2000000
# A vCPU without SVE (kvmstub run --no-sve): gdb gets no SVE registers (v0-v31 and fpsr/fpcr instead of z, p,
# ffr and vg), and the guest's first SVE access, `msr zcr_el1`, is undefined: its own vector table reports
# it (ESR class 0, unknown) and resets through PSCI (kvmstub exits 1).
python check("vg" not in [r.name for r in gdb.selected_frame().architecture().registers()], "no vg register")
python check("z0" not in [r.name for r in gdb.selected_frame().architecture().registers()], "no z registers")
expect_eq sizeof($v0) 16 "v0 is 16 bytes"
set $v0.d.u[1] = 0x1234
expect_eq $v0.d.u[1] 0x1234 "v0 written"
continue
