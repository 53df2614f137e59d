# fake-target: arm64 128
# gdb: gdb-multiarch
# source: lib/roundtrip.py
# source: lib/aarch64-sve.gdb
# exit: 0
# expect: g packet: 830 bytes
# expect: $1 = 2
# gdb-multiarch against a FAKE arm64 kernel with SVE at 128 bits: the target description gdb builds for
# itself at this vector length, z/p/ffr sliced from the kernel's 2048/256-bit values, vg, sp by exception level,
# and every register through p/P and g/G.
sve_checks 128
kill
