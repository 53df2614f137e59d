/*
 * The sve guest's vector code: what it loads into z0, z31, p15 and FFR, and how it reads them back. C never
 * touches these registers (-mgeneral-regs-only), so between sve_set and sve_read they hold what sve_set left,
 * or what a debugger wrote into them meanwhile.
 */
    .arch armv8.2-a+sve
    .text

/* unsigned long sve_enable(unsigned len): FP/SIMD and SVE untrapped at EL1 (CPACR_EL1.FPEN = ZEN = 0b11), then
   ZCR_EL1.LEN = len (effective VL = min((len + 1) * 128, the hypervisor's maximum)); returns VL in bytes. */
    .global sve_enable
    .type sve_enable, %function
sve_enable:
    mrs     x1, cpacr_el1
    orr     x1, x1, #(3 << 20)
    orr     x1, x1, #(3 << 16)
    msr     cpacr_el1, x1
    isb
    msr     zcr_el1, x0
    isb
    rdvl    x0, #1
    ret
    .size sve_enable, . - sve_enable

/* void sve_set(const void *p15_bits): z0 = 0x11 in every byte; z31.b[i] = i (mod 256); p15 from VL/8 bits of
   memory; FFR = the first 8 byte lanes true (an FFR is monotonic: true lanes, then false ones; VL8 fits every VL, where
   a pattern longer than the vector, like VL64 at 128 bits, would give no lanes at all). */
    .global sve_set
    .type sve_set, %function
sve_set:
    dup     z0.b, #0x11
    index   z31.b, #0, #1
    ldr     p15, [x0]
    ptrue   p1.b, vl8
    wrffr   p1.b
    ret
    .size sve_set, . - sve_set

/* void sve_read(void *z, void *p): z0 and z31 to z[0..VL), z[VL..2VL); p15 and FFR to p[0..VL/8), p[VL/8..). */
    .global sve_read
    .type sve_read, %function
sve_read:
    str     z0, [x0]
    str     z31, [x0, #1, mul vl]
    str     p15, [x1]
    rdffr   p0.b
    str     p0, [x1, #1, mul vl]
    ret
    .size sve_read, . - sve_read
