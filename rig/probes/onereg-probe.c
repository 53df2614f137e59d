// onereg-probe: checks kvmstub's register tables against a real KVM. Built for arm64 (aarch64-linux-gnu-gcc)
// or ppc64le (powerpc64le-linux-gnu-gcc), static, and run inside a guest of the rig that has /dev/kvm.
//
//   onereg-probe [--sve-vl BITS] LISTING     every ONE_REG ID in LISTING (the output of `kvmstub regs --arch
//                                           arm64 [--sve-vl BITS]` or `--arch ppc64`) is read, written back,
//                                           read again; data registers also take a pattern and give it back
//                                           (Z/P/FFR: within the vector length, zeros above it)
//   onereg-probe --rules                    the kernel's answers to the edge cases the fake kernel models, one
//                                           "rule NAME ANSWER" line each (rig/probes/ARCH.rules holds them)
//
// IDs kvmstub keeps for itself (bits 39-32 = 0xE0: fields of struct kvm_regs, gdb's vg) are not the kernel's
// and are skipped. Exit status 0 when every kernel ID was accepted.
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <unistd.h>

static int kvm = -1;

static const char *err_name(int e) {
    switch (e) {
    case 0: return "ok";
    case ENOENT: return "ENOENT";
    case EINVAL: return "EINVAL";
    case EPERM: return "EPERM";
    case ENOEXEC: return "ENOEXEC";
    case EFAULT: return "EFAULT";
    case ENXIO: return "ENXIO";
    case EBUSY: return "EBUSY";
    case E2BIG: return "E2BIG";
    case EEXIST: return "EEXIST";
    case ENOTTY: return "ENOTTY";
    case EIO: return "EIO (differs)";
    default: {
        static char buf[32];
        snprintf(buf, sizeof buf, "errno%d", e);
        return buf;
    }
    }
}

static void die(const char *what) {
    fprintf(stderr, "onereg-probe: %s: %s\n", what, strerror(errno));
    exit(2);
}

static size_t reg_size(uint64_t id) { return (size_t)1 << ((id & KVM_REG_SIZE_MASK) >> KVM_REG_SIZE_SHIFT); }

static int get_reg(int vcpu, uint64_t id, void *buf) {
    struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)buf };
    return ioctl(vcpu, KVM_GET_ONE_REG, &r) == 0 ? 0 : errno;
}

static int set_reg(int vcpu, uint64_t id, const void *buf) {
    struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)buf };
    return ioctl(vcpu, KVM_SET_ONE_REG, &r) == 0 ? 0 : errno;
}

static uint64_t get_u64(int vcpu, uint64_t id, int *err) {
    uint8_t buf[256] = {0};
    *err = get_reg(vcpu, id, buf);
    uint64_t v = 0;
    memcpy(&v, buf, reg_size(id) < 8 ? reg_size(id) : 8);
    return v;
}

static int private_id(uint64_t id) { return ((id >> 32) & 0xff) == 0xE0; }

// Registers that count on their own (the generic timer's counters): a write of the value read comes back larger.
static int counter_id(uint64_t id) {
#if defined(__aarch64__)
    return id == KVM_REG_ARM_TIMER_CNT || id == KVM_REG_ARM_PTIMER_CNT;
#else
    (void)id;
    return 0;
#endif
}

struct entry { char name[64]; uint64_t id; };

static int read_listing(const char *path, struct entry *out, int max) {
    FILE *f = fopen(path, "r");
    if (!f) die(path);
    char line[256];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char name[64], idtext[64];
        int regnum, bits;
        if (sscanf(line, "%63s %d %d %63s", name, &regnum, &bits, idtext) != 4) continue;
        if (n == max) break;
        snprintf(out[n].name, sizeof out[n].name, "%s", name);
        out[n].id = strtoull(idtext, NULL, 16);
        n++;
    }
    fclose(f);
    return n;
}

static int create_vm(void) {
    int vm;
    while ((vm = ioctl(kvm, KVM_CREATE_VM, 0)) < 0 && errno == EINTR) {}
    if (vm < 0) die("KVM_CREATE_VM");
    return vm;
}

static int create_vcpu(int vm) {
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0) die("KVM_CREATE_VCPU");
    return vcpu;
}

static void rule(const char *name, int err) { printf("rule %s %s\n", name, err_name(err)); }
static void rule_value(const char *name, uint64_t v) { printf("rule %s 0x%" PRIx64 "\n", name, v); }

#if defined(__aarch64__)
// ---- arm64
static int vl_bits;  // 0: no SVE

#define SVE_VLS_ID KVM_REG_ARM64_SVE_VLS
#define CORE_ID(size, off) (KVM_REG_ARM64 | KVM_REG_SIZE_##size | KVM_REG_ARM_CORE | ((off) / 4))
#define X0_ID CORE_ID(U64, 0)
#define PSTATE_ID CORE_ID(U64, offsetof(struct kvm_regs, regs.pstate))
#define V0_ID CORE_ID(U128, offsetof(struct kvm_regs, fp_regs.vregs[0]))
#define SYSREG_ID(op0, op1, crn, crm, op2) ARM64_SYS_REG(op0, op1, crn, crm, op2)
#define ZCR_EL1_ID SYSREG_ID(3, 0, 1, 2, 0)
#define MIDR_EL1_ID SYSREG_ID(3, 0, 0, 0, 0)

static int vcpu_init(int vm, int vcpu, uint32_t extra_features, int sve) {
    struct kvm_vcpu_init init;
    memset(&init, 0, sizeof init);
    if (ioctl(vm, KVM_ARM_PREFERRED_TARGET, &init) < 0) die("KVM_ARM_PREFERRED_TARGET");
    init.features[0] = 1u << KVM_ARM_VCPU_PSCI_0_2 | extra_features;
    if (sve) init.features[0] |= 1u << KVM_ARM_VCPU_SVE;
    return ioctl(vcpu, KVM_ARM_VCPU_INIT, &init) == 0 ? 0 : errno;
}

// Restricts the vCPU to vector lengths up to `bits` (KVM takes only a maximum: every length the host offers up
// to it stays set), then finalizes SVE.
static void sve_setup(int vcpu, int bits) {
    uint64_t vls[KVM_ARM64_SVE_VLS_WORDS];
    int e = get_reg(vcpu, SVE_VLS_ID, vls);
    if (e) { errno = e; die("get KVM_REG_ARM64_SVE_VLS"); }
    int vq = bits / 128;
    if (!(vls[(vq - 1) / 64] >> ((vq - 1) % 64) & 1)) {
        fprintf(stderr, "onereg-probe: the host offers no SVE vector length of %d bits\n", bits);
        exit(2);
    }
    for (int q = vq + 1; q <= 64 * KVM_ARM64_SVE_VLS_WORDS; q++) vls[(q - 1) / 64] &= ~(1ULL << ((q - 1) % 64));
    e = set_reg(vcpu, SVE_VLS_ID, vls);
    if (e) { errno = e; die("set KVM_REG_ARM64_SVE_VLS"); }
    int feature = KVM_ARM_VCPU_SVE;
    if (ioctl(vcpu, KVM_ARM_VCPU_FINALIZE, &feature) < 0) die("KVM_ARM_VCPU_FINALIZE");
}

static int setup_vcpu(int *vm_out) {
    int vm = create_vm();
    int vcpu = create_vcpu(vm);
    int e = vcpu_init(vm, vcpu, 0, vl_bits != 0);
    if (e) { errno = e; die("KVM_ARM_VCPU_INIT"); }
    if (vl_bits) sve_setup(vcpu, vl_bits);
    *vm_out = vm;
    return vcpu;
}

// How many bytes of a register's value are live (the rest of a Z/P/FFR ID is above the vector length), and
// whether it is a data register that must give back any pattern written.
static size_t data_bytes(uint64_t id) {
    uint64_t coproc = id & KVM_REG_ARM_COPROC_MASK;
    if (coproc == KVM_REG_ARM64_SVE) {
        uint64_t index = id & 0xffff;
        if (index < KVM_REG_ARM64_SVE_PREG_BASE) return vl_bits / 8;
        if (index < 0x700) return vl_bits / 64;
        return 0;
    }
    if (coproc == KVM_REG_ARM_CORE) {
        uint64_t off = (id & 0xffff) * 4;
        if (off < 31 * 8) return 8;  // x0-x30
        if (off >= offsetof(struct kvm_regs, fp_regs.vregs[0]) && off < offsetof(struct kvm_regs, fp_regs.fpsr))
            return 16;  // v0-v31
    }
    return 0;
}

static void print_rules(void) {
    int vm, vcpu, e;
    uint8_t buf[256];
    struct utsname u;
    uname(&u);
    printf("# arm64 rules, Linux %s\n", u.release);
    struct kvm_vcpu_init pref;
    vm = create_vm();
    if (ioctl(vm, KVM_ARM_PREFERRED_TARGET, &pref) < 0) die("KVM_ARM_PREFERRED_TARGET");
    printf("# preferred target %u\n", pref.target);
    // Before KVM_ARM_VCPU_INIT.
    vcpu = create_vcpu(vm);
    rule("get_before_init", get_reg(vcpu, X0_ID, buf));
    int feature = KVM_ARM_VCPU_SVE;
    rule("finalize_before_init", ioctl(vcpu, KVM_ARM_VCPU_FINALIZE, &feature) == 0 ? 0 : errno);
    struct kvm_vcpu_init init = pref;
    init.features[0] = 1u << 30;
    rule("init_unknown_feature_word0", ioctl(vcpu, KVM_ARM_VCPU_INIT, &init) == 0 ? 0 : errno);
    init = pref;
    init.features[1] = 1;
    rule("init_unknown_feature_word1", ioctl(vcpu, KVM_ARM_VCPU_INIT, &init) == 0 ? 0 : errno);
    init = pref;
    init.target = pref.target + 1;
    rule("init_other_target", ioctl(vcpu, KVM_ARM_VCPU_INIT, &init) == 0 ? 0 : errno);
    close(vcpu); close(vm);
    // 32-bit EL1.
    vm = create_vm(); vcpu = create_vcpu(vm);
    e = vcpu_init(vm, vcpu, 1u << KVM_ARM_VCPU_EL1_32BIT, 0);
    rule("init_el1_32bit", e);
    if (!e) rule_value("reset_pstate_el1_32bit", get_u64(vcpu, PSTATE_ID, &e));
    close(vcpu); close(vm);
    vm = create_vm(); vcpu = create_vcpu(vm);
    rule("init_el1_32bit_with_sve", vcpu_init(vm, vcpu, 1u << KVM_ARM_VCPU_EL1_32BIT, 1));
    close(vcpu); close(vm);
    // Without SVE.
    vm = create_vm(); vcpu = create_vcpu(vm);
    if ((e = vcpu_init(vm, vcpu, 0, 0))) { errno = e; die("KVM_ARM_VCPU_INIT"); }
    rule_value("reset_pstate", get_u64(vcpu, PSTATE_ID, &e));
    rule("zcr_el1_without_sve", get_reg(vcpu, ZCR_EL1_ID, buf));
    rule("sve_zreg_without_sve", get_reg(vcpu, KVM_REG_ARM64_SVE_ZREG(0, 0), buf));
    rule("vls_without_sve", get_reg(vcpu, SVE_VLS_ID, buf));
    rule("v0_without_sve", get_reg(vcpu, V0_ID, buf));
    rule("core_id_bits_32_51", get_reg(vcpu, X0_ID | 1ULL << 32, buf));
    rule("core_id_bit_51", get_reg(vcpu, X0_ID | 1ULL << 51, buf));
    rule("core_wrong_size", get_reg(vcpu, CORE_ID(U32, 0), buf));
    rule("core_past_end", get_reg(vcpu, CORE_ID(U64, sizeof(struct kvm_regs)), buf));
    rule("sysreg_wrong_size", get_reg(vcpu, (MIDR_EL1_ID & ~KVM_REG_SIZE_MASK) | KVM_REG_SIZE_U32, buf));
    rule("sysreg_unknown", get_reg(vcpu, SYSREG_ID(3, 7, 15, 15, 7), buf));
    rule("other_arch_id", get_reg(vcpu, (X0_ID & ~KVM_REG_ARCH_MASK) | KVM_REG_X86, buf));
    rule("unknown_coproc", get_reg(vcpu, KVM_REG_ARM64 | KVM_REG_SIZE_U64 | (0x0ff0ULL << KVM_REG_ARM_COPROC_SHIFT), buf));
    uint64_t v = 0x10;  // AArch32 User mode
    rule("set_pstate_aarch32_usr", set_reg(vcpu, PSTATE_ID, &v));
    v = 0x9;  // EL2h
    rule("set_pstate_el2h", set_reg(vcpu, PSTATE_ID, &v));
    v = 0x3c5;
    set_reg(vcpu, PSTATE_ID, &v);
    rule_value("psci_version", get_u64(vcpu, KVM_REG_ARM_PSCI_VERSION, &e));
    v = 0x2;  // PSCI 0.2
    rule("set_psci_version_0_2", set_reg(vcpu, KVM_REG_ARM_PSCI_VERSION, &v));
    v = 0x10000;  // PSCI 1.0
    rule("set_psci_version_1_0", set_reg(vcpu, KVM_REG_ARM_PSCI_VERSION, &v));
    v = 0x3;  // 0.3: no such version
    rule("set_psci_version_0_3", set_reg(vcpu, KVM_REG_ARM_PSCI_VERSION, &v));
    close(vcpu); close(vm);
    // With SVE, before and after finalize.
    vm = create_vm(); vcpu = create_vcpu(vm);
    if ((e = vcpu_init(vm, vcpu, 0, 1))) { errno = e; die("KVM_ARM_VCPU_INIT (SVE)"); }
    uint64_t vls[KVM_ARM64_SVE_VLS_WORDS];
    if ((e = get_reg(vcpu, SVE_VLS_ID, vls))) { errno = e; die("get KVM_REG_ARM64_SVE_VLS"); }
    printf("# host vector lengths:");
    for (int q = 1; q <= 64 * KVM_ARM64_SVE_VLS_WORDS; q++)
        if (vls[(q - 1) / 64] >> ((q - 1) % 64) & 1) printf(" %d", q * 128);
    printf("\n");
    rule("sve_zreg_before_finalize", get_reg(vcpu, KVM_REG_ARM64_SVE_ZREG(0, 0), buf));
    {
        struct kvm_reg_list probe = { .n = 0 };
        rule("reg_list_before_finalize", ioctl(vcpu, KVM_GET_REG_LIST, &probe) == 0 ? 0 : errno);
    }
    // A set of lengths with a hole below its maximum.
    uint64_t holed[KVM_ARM64_SVE_VLS_WORDS];
    memcpy(holed, vls, sizeof holed);
    holed[0] &= ~1ULL;  // drop 128 bits
    rule("vls_with_hole", set_reg(vcpu, SVE_VLS_ID, holed));
    rule("v0_with_sve", get_reg(vcpu, V0_ID, buf));
    feature = KVM_ARM_VCPU_SVE;
    if (ioctl(vcpu, KVM_ARM_VCPU_FINALIZE, &feature) < 0) die("KVM_ARM_VCPU_FINALIZE");
    rule("finalize_twice", ioctl(vcpu, KVM_ARM_VCPU_FINALIZE, &feature) == 0 ? 0 : errno);
    rule("vls_set_after_finalize", set_reg(vcpu, SVE_VLS_ID, vls));
    rule_value("reset_zcr_el1", get_u64(vcpu, ZCR_EL1_ID, &e));
    rule("sve_zreg_wrong_size", get_reg(vcpu, (KVM_REG_ARM64_SVE_ZREG(0, 0) & ~KVM_REG_SIZE_MASK) | KVM_REG_SIZE_U1024, buf));
    rule("sve_zreg_slice_1", get_reg(vcpu, KVM_REG_ARM64_SVE_ZREG(0, 1), buf));
    rule("sve_index_past_ffr", get_reg(vcpu, (KVM_REG_ARM64_SVE_FFR(0) & ~KVM_REG_SIZE_MASK & ~0xffffULL) | KVM_REG_SIZE_U256 | 0x700, buf));
    rule("sve_ffr_slice_1", get_reg(vcpu, KVM_REG_ARM64_SVE_FFR(1), buf));
    close(vcpu); close(vm);
    // A feature finalize does not know.
    vm = create_vm(); vcpu = create_vcpu(vm);
    if ((e = vcpu_init(vm, vcpu, 0, 1))) { errno = e; die("KVM_ARM_VCPU_INIT (SVE)"); }
    feature = KVM_ARM_VCPU_PSCI_0_2;
    rule("finalize_other_feature", ioctl(vcpu, KVM_ARM_VCPU_FINALIZE, &feature) == 0 ? 0 : errno);
    close(vcpu); close(vm);
}
static const char *arch_name = "arm64";

#elif defined(__powerpc64__)
// ---- ppc64 (book3s HV)
#define FPR_ID(n) (KVM_REG_PPC_FPR(n))

static int setup_vcpu(int *vm_out) {
    int vm = create_vm();
    *vm_out = vm;
    return create_vcpu(vm);
}

static size_t data_bytes(uint64_t id) {
    uint64_t index = id & 0xffffffff;
    if (index >= 0x20 && index < 0x40) return 8;    // FPR
    if (index >= 0x40 && index < 0x80) return 16;   // VR, VSR
    return 0;
}

static void print_rules(void) {
    int vm, vcpu;
    uint8_t buf[256];
    struct utsname u;
    uname(&u);
    printf("# ppc64 rules, Linux %s\n", u.release);
    vcpu = setup_vcpu(&vm);
    struct kvm_regs regs;
    if (ioctl(vcpu, KVM_GET_REGS, &regs) < 0) die("KVM_GET_REGS");
    rule_value("reset_msr", regs.msr);
    rule_value("reset_pc", regs.pc);
    // The fields kvmstub gives project-private IDs (struct kvm_regs): a pattern through KVM_SET_REGS comes back.
    struct kvm_regs want = regs, back;
    for (int i = 0; i < 32; i++) want.gpr[i] = 0x0101010101010101ULL * (i + 1);
    want.pc = 0x10000; want.lr = 0x2000; want.ctr = 0x3000; want.cr = 0x24000042; want.xer = 0x20000000;
    int roundtrip = ioctl(vcpu, KVM_SET_REGS, &want) == 0 ? 0 : errno;
    if (!roundtrip && ioctl(vcpu, KVM_GET_REGS, &back) < 0) roundtrip = errno;
    if (!roundtrip && (memcmp(back.gpr, want.gpr, sizeof want.gpr) || back.pc != want.pc || back.lr != want.lr ||
                       back.ctr != want.ctr || back.cr != want.cr || back.xer != want.xer))
        roundtrip = EIO;
    rule("set_regs_roundtrip", roundtrip);
    printf("# sizeof(struct kvm_regs) %zu\n", sizeof(struct kvm_regs));
    int e;
    rule_value("reset_vscr", get_u64(vcpu, KVM_REG_PPC_VSCR, &e));
    rule_value("reset_fpscr", get_u64(vcpu, KVM_REG_PPC_FPSCR, &e));
    rule("vsr0", get_reg(vcpu, KVM_REG_PPC_VSR(0), buf));
    rule("unknown_index", get_reg(vcpu, KVM_REG_PPC | KVM_REG_SIZE_U64 | 0xfff0, buf));
    rule("fpr_wrong_size", get_reg(vcpu, (FPR_ID(0) & ~KVM_REG_SIZE_MASK) | KVM_REG_SIZE_U32, buf));
    rule("id_bits_32_51", get_reg(vcpu, FPR_ID(0) | 1ULL << 32, buf));
    rule("other_arch_id", get_reg(vcpu, (FPR_ID(0) & ~KVM_REG_ARCH_MASK) | KVM_REG_ARM64, buf));
    {
        struct kvm_reg_list probe = { .n = 0 };
        rule("reg_list", ioctl(vcpu, KVM_GET_REG_LIST, &probe) == 0 ? 0 : errno);
    }
    close(vcpu); close(vm);
}
static const char *arch_name = "ppc64";
#else
#error "onereg-probe is for arm64 and ppc64le"
#endif

int main(int argc, char **argv) {
    kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) die("open /dev/kvm");
    if (argc == 2 && strcmp(argv[1], "--rules") == 0) {
        print_rules();
        return 0;
    }
    const char *listing = NULL;
    for (int i = 1; i < argc; i++) {
#if defined(__aarch64__)
        if (strcmp(argv[i], "--sve-vl") == 0 && i + 1 < argc) {
            vl_bits = atoi(argv[++i]);
            if (vl_bits < 128 || vl_bits > 2048 || vl_bits % 128) { fprintf(stderr, "onereg-probe: bad --sve-vl\n"); return 2; }
            continue;
        }
#endif
        listing = argv[i];
    }
    if (!listing) { fprintf(stderr, "usage: onereg-probe [--sve-vl BITS] LISTING | --rules\n"); return 2; }
    static struct entry entries[1024];
    int n = read_listing(listing, entries, 1024);
    int vm, vcpu = setup_vcpu(&vm);
    // The kernel's own list (arm64; powerpc has none).
    static uint64_t listed[4096];
    uint64_t nlisted = 0;
    {
        struct { uint64_t n; uint64_t reg[4096]; } *rl = calloc(1, sizeof *rl);
        rl->n = 4096;
        if (ioctl(vcpu, KVM_GET_REG_LIST, rl) == 0) {
            nlisted = rl->n;
            memcpy(listed, rl->reg, nlisted * 8);
        }
        free(rl);
    }
    int kernel_ids = 0, accepted = 0, skipped = 0, patterns = 0, not_listed = 0;
    for (int i = 0; i < n; i++) {
        uint64_t id = entries[i].id;
        if (private_id(id)) { skipped++; continue; }
        kernel_ids++;
        size_t size = reg_size(id);
        uint8_t before[256] = {0}, after[256] = {0}, pattern[256], back[256] = {0};
        int e = get_reg(vcpu, id, before);
        if (e) { printf("FAIL %s 0x%016" PRIx64 ": get %s\n", entries[i].name, id, err_name(e)); continue; }
        e = set_reg(vcpu, id, before);
        if (e) { printf("FAIL %s 0x%016" PRIx64 ": set (its own value) %s\n", entries[i].name, id, err_name(e)); continue; }
        e = get_reg(vcpu, id, after);
        if (!e && counter_id(id)) {
            // A counter runs on between the write and the read: it must not have gone back.
            uint64_t b, a;
            memcpy(&b, before, 8);
            memcpy(&a, after, 8);
            if (a < b) { printf("FAIL %s 0x%016" PRIx64 ": counter went back on a write of its own value\n", entries[i].name, id); continue; }
        } else if (e || memcmp(before, after, size)) {
            printf("FAIL %s 0x%016" PRIx64 ": value changed by writing it back\n", entries[i].name, id);
            continue;
        }
        size_t live = data_bytes(id);
        if (live) {
            for (size_t b = 0; b < size; b++) pattern[b] = (uint8_t)(0x5a ^ (b * 7 + 1) ^ (id & 0xff));
            e = set_reg(vcpu, id, pattern);
            int e2 = e ? e : get_reg(vcpu, id, back);
            int ok = !e && !e2 && memcmp(back, pattern, live) == 0;
            for (size_t b = live; ok && b < size; b++) ok = back[b] == 0;
            if (!ok) {
                printf("FAIL %s 0x%016" PRIx64 ": a pattern written (%zu live bytes of %zu) did not come back (%s)\n",
                       entries[i].name, id, live, size, err_name(e ? e : e2));
                continue;
            }
            set_reg(vcpu, id, before);
            patterns++;
        }
        if (nlisted) {
            int found = 0;
            for (uint64_t k = 0; k < nlisted && !found; k++) found = listed[k] == id;
            if (!found) { not_listed++; printf("note %s 0x%016" PRIx64 ": accepted, not in KVM_GET_REG_LIST\n", entries[i].name, id); }
        }
        accepted++;
    }
    struct utsname u;
    uname(&u);
    char vl[32] = "";
#if defined(__aarch64__)
    snprintf(vl, sizeof vl, vl_bits ? " sve-vl %d" : " no-sve", vl_bits);
#endif
    printf("probe %s%s Linux %s: %d/%d kernel IDs read and written back, %d data patterns kept; %d project-private skipped",
           arch_name, vl, u.release, accepted, kernel_ids, patterns, skipped);
    if (nlisted) printf("; %d not in KVM_GET_REG_LIST", not_listed);
    printf("\n");
    close(vcpu);
    close(vm);
    return accepted == kernel_ids ? 0 : 1;
}
