// CKVM: the C side of kvmstub. Constants from <linux/kvm.h> as static consts (Swift does not import
// function-like macros such as _IOW), and ioctl wrappers (Swift cannot call the variadic ioctl(2)).
// No logic lives here.
#ifndef CKVM_H
#define CKVM_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>  // the stop notification; Glibc's Swift module does not export it

// ioctl(2) is variadic: Swift cannot call it, so every call goes through one of these.
static inline int ckvm_ioctl_ptr(int fd, unsigned long request, void *arg) { return ioctl(fd, request, arg); }
static inline int ckvm_ioctl_val(int fd, unsigned long request, unsigned long arg) { return ioctl(fd, request, arg); }

// System ioctls.
static const unsigned long CKVM_GET_API_VERSION = KVM_GET_API_VERSION;
static const unsigned long CKVM_CREATE_VM = KVM_CREATE_VM;
static const unsigned long CKVM_CHECK_EXTENSION = KVM_CHECK_EXTENSION;
static const unsigned long CKVM_GET_VCPU_MMAP_SIZE = KVM_GET_VCPU_MMAP_SIZE;

// VM ioctls.
static const unsigned long CKVM_CREATE_VCPU = KVM_CREATE_VCPU;
static const unsigned long CKVM_SET_USER_MEMORY_REGION = KVM_SET_USER_MEMORY_REGION;
static const unsigned long CKVM_CREATE_IRQCHIP = KVM_CREATE_IRQCHIP;
static const unsigned long CKVM_IRQ_LINE = KVM_IRQ_LINE;
static const unsigned long CKVM_GET_MP_STATE = KVM_GET_MP_STATE;
static const unsigned long CKVM_SET_MP_STATE = KVM_SET_MP_STATE;
static const uint32_t CKVM_MP_STATE_RUNNABLE = KVM_MP_STATE_RUNNABLE;
#if defined(__x86_64__)
static const unsigned long CKVM_GET_LAPIC = KVM_GET_LAPIC;
#endif
static const uint32_t CKVM_MP_STATE_UNINITIALIZED = KVM_MP_STATE_UNINITIALIZED;
static const uint32_t CKVM_MP_STATE_INIT_RECEIVED = KVM_MP_STATE_INIT_RECEIVED;
static const uint32_t CKVM_MP_STATE_HALTED = KVM_MP_STATE_HALTED;
static const uint32_t CKVM_MP_STATE_SIPI_RECEIVED = KVM_MP_STATE_SIPI_RECEIVED;

// vCPU ioctls.
static const unsigned long CKVM_RUN = KVM_RUN;
static const unsigned long CKVM_GET_ONE_REG = KVM_GET_ONE_REG;
static const unsigned long CKVM_SET_ONE_REG = KVM_SET_ONE_REG;
static const unsigned long CKVM_GET_REG_LIST = KVM_GET_REG_LIST;
static const unsigned long CKVM_SET_GUEST_DEBUG = KVM_SET_GUEST_DEBUG;

// Capabilities.
static const int CKVM_CAP_ONE_REG = KVM_CAP_ONE_REG;
static const int CKVM_CAP_READONLY_MEM = KVM_CAP_READONLY_MEM;
static const int CKVM_CAP_SYNC_REGS = KVM_CAP_SYNC_REGS;
static const int CKVM_CAP_SET_GUEST_DEBUG = KVM_CAP_SET_GUEST_DEBUG;
static const int CKVM_CAP_SET_GUEST_DEBUG2 = KVM_CAP_SET_GUEST_DEBUG2;
static const int CKVM_CAP_NR_VCPUS = KVM_CAP_NR_VCPUS;
static const int CKVM_CAP_MAX_VCPUS = KVM_CAP_MAX_VCPUS;
static const int CKVM_CAP_IMMEDIATE_EXIT = KVM_CAP_IMMEDIATE_EXIT;
static const int CKVM_CAP_KVMCLOCK_CTRL = KVM_CAP_KVMCLOCK_CTRL;
static const int CKVM_CAP_USER_MEMORY = KVM_CAP_USER_MEMORY;

// Guest debug control flags.
static const uint32_t CKVM_GUESTDBG_ENABLE = KVM_GUESTDBG_ENABLE;
static const uint32_t CKVM_GUESTDBG_SINGLESTEP = KVM_GUESTDBG_SINGLESTEP;
// USE_SW_BP is the same bit on x86 and arm64 (each <asm/kvm.h> defines it); the rest are per architecture.
static const uint32_t CKVM_GUESTDBG_USE_SW_BP = KVM_GUESTDBG_USE_SW_BP;

// Exit reasons.
static const uint32_t CKVM_EXIT_UNKNOWN = KVM_EXIT_UNKNOWN;
static const uint32_t CKVM_EXIT_EXCEPTION = KVM_EXIT_EXCEPTION;
static const uint32_t CKVM_EXIT_IO = KVM_EXIT_IO;
static const uint32_t CKVM_EXIT_DEBUG = KVM_EXIT_DEBUG;
static const uint32_t CKVM_EXIT_HLT = KVM_EXIT_HLT;
static const uint32_t CKVM_EXIT_MMIO = KVM_EXIT_MMIO;
static const uint32_t CKVM_EXIT_SHUTDOWN = KVM_EXIT_SHUTDOWN;
static const uint32_t CKVM_EXIT_FAIL_ENTRY = KVM_EXIT_FAIL_ENTRY;
static const uint32_t CKVM_EXIT_INTR = KVM_EXIT_INTR;
static const uint32_t CKVM_EXIT_INTERNAL_ERROR = KVM_EXIT_INTERNAL_ERROR;
static const uint32_t CKVM_INTERNAL_ERROR_EMULATION = KVM_INTERNAL_ERROR_EMULATION;
static const uint32_t CKVM_EXIT_SYSTEM_EVENT = KVM_EXIT_SYSTEM_EVENT;
static const uint32_t CKVM_EXIT_SET_TPR = KVM_EXIT_SET_TPR;
static const uint8_t CKVM_EXIT_IO_IN = KVM_EXIT_IO_IN;
static const uint8_t CKVM_EXIT_IO_OUT = KVM_EXIT_IO_OUT;

// The ONE_REG ID fields (include/uapi/linux/kvm.h).
static const uint64_t CKVM_REG_ARCH_MASK = KVM_REG_ARCH_MASK;
static const uint64_t CKVM_REG_X86 = KVM_REG_X86;
static const uint64_t CKVM_REG_ARM64 = KVM_REG_ARM64;
static const uint64_t CKVM_REG_PPC = KVM_REG_PPC;
static const uint64_t CKVM_REG_SIZE_MASK = KVM_REG_SIZE_MASK;
static const int CKVM_REG_SIZE_SHIFT = KVM_REG_SIZE_SHIFT;

static inline size_t ckvm_run_io_offset(void) { return offsetof(struct kvm_run, io); }

// The shared kvm_run page. Its exit data sit in an anonymous union that Swift imports only under generated
// names, so these accessors name the fields; each is a single load or address computation.
static inline uint32_t ckvm_run_exit_reason(const struct kvm_run *r) { return r->exit_reason; }
static inline void ckvm_run_set_immediate_exit(struct kvm_run *r, uint8_t v) { r->immediate_exit = v; }
static inline uint8_t ckvm_run_io_direction(const struct kvm_run *r) { return r->io.direction; }
static inline uint8_t ckvm_run_io_size(const struct kvm_run *r) { return r->io.size; }
static inline uint16_t ckvm_run_io_port(const struct kvm_run *r) { return r->io.port; }
static inline uint32_t ckvm_run_io_count(const struct kvm_run *r) { return r->io.count; }
static inline uint8_t *ckvm_run_io_data(struct kvm_run *r) { return (uint8_t *)r + r->io.data_offset; }
static inline uint64_t ckvm_run_mmio_phys_addr(const struct kvm_run *r) { return r->mmio.phys_addr; }
static inline uint8_t *ckvm_run_mmio_data(struct kvm_run *r) { return r->mmio.data; }
static inline uint32_t ckvm_run_mmio_len(const struct kvm_run *r) { return r->mmio.len; }
static inline uint8_t ckvm_run_mmio_is_write(const struct kvm_run *r) { return r->mmio.is_write; }
static inline uint32_t ckvm_run_internal_suberror(const struct kvm_run *r) { return r->internal.suberror; }
static inline uint32_t ckvm_run_internal_ndata(const struct kvm_run *r) { return r->internal.ndata; }
static inline uint64_t ckvm_run_internal_data(const struct kvm_run *r, uint32_t i) { return i < 16 ? r->internal.data[i] : 0; }
static inline uint64_t ckvm_run_fail_entry_reason(const struct kvm_run *r) { return r->fail_entry.hardware_entry_failure_reason; }
static inline uint32_t ckvm_run_system_event_type(const struct kvm_run *r) { return r->system_event.type; }
static inline uint32_t ckvm_run_exception_number(const struct kvm_run *r) { return r->ex.exception; }
static inline __u64 *ckvm_run_valid_regs(struct kvm_run *r) { return &r->kvm_valid_regs; }
static inline __u64 *ckvm_run_dirty_regs(struct kvm_run *r) { return &r->kvm_dirty_regs; }

// arm64 and powerpc vCPU ioctls for the ONE_REG backends (KVM/VCPU+OneRegDevice.swift). Built for that
// architecture, <linux/kvm.h> has them. Elsewhere the structs they encode are not declared (struct kvm_vcpu_init
// is arm64's, and <asm/kvm.h> here has x86's struct kvm_regs), so the request numbers are spelled out with that
// architecture's _IOC layout: arm64 uses the generic one (dir bits 31-30, WRITE = 1, READ = 2; size 29-16);
// powerpc its own (dir bits 31-29, READ = 2, WRITE = 4; size 28-16). On this build they are never issued.
#if defined(__aarch64__)
static const unsigned long CKVM_ARM_VCPU_INIT = KVM_ARM_VCPU_INIT;
static const unsigned long CKVM_ARM_PREFERRED_TARGET = KVM_ARM_PREFERRED_TARGET;
static const unsigned long CKVM_ARM_VCPU_FINALIZE = KVM_ARM_VCPU_FINALIZE;
#else
// _IOW(KVMIO, 0xae, struct kvm_vcpu_init) with sizeof(struct kvm_vcpu_init) == 32; _IOR(KVMIO, 0xaf, struct
// kvm_vcpu_init) (a VM ioctl); _IOW(KVMIO, 0xc2, int).
static const unsigned long CKVM_ARM_VCPU_INIT = (1UL << 30) | (32UL << 16) | (KVMIO << 8) | 0xae;
static const unsigned long CKVM_ARM_PREFERRED_TARGET = (2UL << 30) | (32UL << 16) | (KVMIO << 8) | 0xaf;
static const unsigned long CKVM_ARM_VCPU_FINALIZE = (1UL << 30) | (4UL << 16) | (KVMIO << 8) | 0xc2;
#endif
#if defined(__powerpc64__)
static const unsigned long CKVM_PPC_GET_REGS = KVM_GET_REGS;
static const unsigned long CKVM_PPC_SET_REGS = KVM_SET_REGS;
#else
// _IOR(KVMIO, 0x81, struct kvm_regs) and _IOW(KVMIO, 0x82, ...) with powerpc's struct kvm_regs (392 bytes).
static const unsigned long CKVM_PPC_GET_REGS = (2UL << 29) | (392UL << 16) | (KVMIO << 8) | 0x81;
static const unsigned long CKVM_PPC_SET_REGS = (4UL << 29) | (392UL << 16) | (KVMIO << 8) | 0x82;
#endif
// gettid has no Glibc declaration Swift sees (it needs _GNU_SOURCE), and syscall(2) is variadic: the thread that
// input on gdb's socket must interrupt is named with this (KVM/KickSignal.swift).
#include <unistd.h>
#include <sys/syscall.h>
static inline int ckvm_gettid(void) { return (int)syscall(SYS_gettid); }

// KVM_SET_SIGNAL_MASK: the mask inside KVM_RUN (KVM/VCPU.swift builds the struct).
static const unsigned long CKVM_SET_SIGNAL_MASK = KVM_SET_SIGNAL_MASK;

#if defined(__x86_64__) || defined(__i386__)
// ---- x86 only. On another architecture <linux/kvm.h> brings that architecture's <asm/kvm.h>: these
// structs are not declared there (kvm_xsave, kvm_debugregs, kvm_msrs, kvm_cpuid2, the sync-regs page) or are
// other structs under the same name (kvm_regs, kvm_sregs, kvm_fpu, kvm_vcpu_events, kvm_guest_debug_arch).
// The Swift that uses them is under `#if arch(x86_64)`.
static const unsigned long CKVM_GET_MSR_INDEX_LIST = KVM_GET_MSR_INDEX_LIST;
static const unsigned long CKVM_GET_SUPPORTED_CPUID = KVM_GET_SUPPORTED_CPUID;
static const unsigned long CKVM_SET_TSS_ADDR = KVM_SET_TSS_ADDR;
static const unsigned long CKVM_SET_IDENTITY_MAP_ADDR = KVM_SET_IDENTITY_MAP_ADDR;
static const unsigned long CKVM_CREATE_PIT2 = KVM_CREATE_PIT2;
static const unsigned long CKVM_REINJECT_CONTROL = KVM_REINJECT_CONTROL;
static const unsigned int CKVM_PIT_SPEAKER_DUMMY = KVM_PIT_SPEAKER_DUMMY;
static const unsigned long CKVM_GET_REGS = KVM_GET_REGS;
static const unsigned long CKVM_SET_REGS = KVM_SET_REGS;
static const unsigned long CKVM_GET_SREGS = KVM_GET_SREGS;
static const unsigned long CKVM_SET_SREGS = KVM_SET_SREGS;
static const unsigned long CKVM_GET_FPU = KVM_GET_FPU;
static const unsigned long CKVM_SET_FPU = KVM_SET_FPU;
static const unsigned long CKVM_GET_XSAVE = KVM_GET_XSAVE;
static const unsigned long CKVM_SET_XSAVE = KVM_SET_XSAVE;
static const unsigned long CKVM_GET_DEBUGREGS = KVM_GET_DEBUGREGS;
static const unsigned long CKVM_SET_DEBUGREGS = KVM_SET_DEBUGREGS;
static const unsigned long CKVM_GET_MSRS = KVM_GET_MSRS;
static const unsigned long CKVM_SET_MSRS = KVM_SET_MSRS;
static const unsigned long CKVM_SET_CPUID2 = KVM_SET_CPUID2;
static const unsigned long CKVM_GET_VCPU_EVENTS = KVM_GET_VCPU_EVENTS;
static const unsigned long CKVM_SET_VCPU_EVENTS = KVM_SET_VCPU_EVENTS;
static const unsigned long CKVM_INTERRUPT = KVM_INTERRUPT;
static const unsigned long CKVM_KVMCLOCK_CTRL = KVM_KVMCLOCK_CTRL;
// <linux/kvm.h> numbers these two only where __KVM_HAVE_DEBUGREGS / __KVM_HAVE_XSAVE (x86).
static const int CKVM_CAP_DEBUGREGS = KVM_CAP_DEBUGREGS;
static const int CKVM_CAP_XSAVE = KVM_CAP_XSAVE;
static const uint32_t CKVM_GUESTDBG_USE_HW_BP = KVM_GUESTDBG_USE_HW_BP;
static const uint32_t CKVM_GUESTDBG_INJECT_BP = KVM_GUESTDBG_INJECT_BP;
static const uint32_t CKVM_GUESTDBG_BLOCKIRQ = KVM_GUESTDBG_BLOCKIRQ;

// kvm_run->kvm_valid_regs / kvm_dirty_regs bits (KVM_CAP_SYNC_REGS).
static const uint64_t CKVM_SYNC_X86_REGS = KVM_SYNC_X86_REGS;
static const uint64_t CKVM_SYNC_X86_SREGS = KVM_SYNC_X86_SREGS;
static const uint64_t CKVM_SYNC_X86_EVENTS = KVM_SYNC_X86_EVENTS;

// x86 MSRs through ONE_REG arrived in Linux 6.18 (arch/x86/include/uapi/asm/kvm.h); Debian 12's headers
// predate it, so the encoding is spelled out here: KVM_REG_X86 | size | type << 32 | index.
#ifndef KVM_X86_REG_TYPE_MSR
#define KVM_X86_REG_TYPE_MSR 2
#endif
static const uint64_t CKVM_X86_REG_TYPE_MSR = KVM_X86_REG_TYPE_MSR;

// The layout the Swift side relies on when it reads the shared kvm_run page and the bulk structs.
_Static_assert(sizeof(struct kvm_regs) == 144, "struct kvm_regs");
_Static_assert(sizeof(struct kvm_segment) == 24, "struct kvm_segment");
_Static_assert(offsetof(struct kvm_sregs, cr0) == 8 * 24 + 2 * 16, "kvm_sregs.cr0");
_Static_assert(sizeof(struct kvm_fpu) == 416, "struct kvm_fpu");
_Static_assert(offsetof(struct kvm_fpu, xmm) == 152, "kvm_fpu.xmm");
_Static_assert(sizeof(struct kvm_guest_debug) == 72, "struct kvm_guest_debug");

static inline size_t ckvm_run_sync_regs_offset(void) { return offsetof(struct kvm_run, s.regs); }
static inline uint8_t ckvm_run_if_flag(const struct kvm_run *r) { return r->if_flag; }
static inline uint32_t ckvm_run_debug_exception(const struct kvm_run *r) { return r->debug.arch.exception; }
static inline uint64_t ckvm_run_debug_pc(const struct kvm_run *r) { return r->debug.arch.pc; }
static inline uint64_t ckvm_run_debug_dr6(const struct kvm_run *r) { return r->debug.arch.dr6; }
static inline uint64_t ckvm_run_debug_dr7(const struct kvm_run *r) { return r->debug.arch.dr7; }
static inline struct kvm_regs *ckvm_run_sync_regs(struct kvm_run *r) { return &r->s.regs.regs; }
static inline struct kvm_sregs *ckvm_run_sync_sregs(struct kvm_run *r) { return &r->s.regs.sregs; }

// CPUID, for the XSAVE layout (leaf 0xD gives each state component's offset in the standard format that
// KVM_GET_XSAVE uses). The instruction has no Swift spelling.
#include <cpuid.h>
static inline void ckvm_cpuid(uint32_t leaf, uint32_t sub, uint32_t out[4]) {
    __cpuid_count(leaf, sub, out[0], out[1], out[2], out[3]);
}

// Variable-length ioctl arguments (a count followed by a flexible array) are sized here.
static inline size_t ckvm_msrs_size(uint32_t n) { return sizeof(struct kvm_msrs) + n * sizeof(struct kvm_msr_entry); }
static inline size_t ckvm_msr_list_size(uint32_t n) { return sizeof(struct kvm_msr_list) + n * sizeof(uint32_t); }
static inline size_t ckvm_cpuid2_size(uint32_t n) { return sizeof(struct kvm_cpuid2) + n * sizeof(struct kvm_cpuid_entry2); }
#endif  // x86

#if defined(__aarch64__)
// ---- arm64 only (arch/arm64/include/uapi/asm/kvm.h).
// KVM_GUESTDBG_USE_HW: hardware breakpoints and watchpoints from kvm_guest_debug_arch's dbg_bcr/bvr/wcr/wvr.
static const uint32_t CKVM_GUESTDBG_USE_HW = KVM_GUESTDBG_USE_HW;
static const int CKVM_ARM_MAX_DBG_REGS = KVM_ARM_MAX_DBG_REGS;
_Static_assert(sizeof(struct kvm_vcpu_init) == 32, "struct kvm_vcpu_init");
_Static_assert(sizeof(struct kvm_guest_debug) == 8 + 4 * 16 * 8, "struct kvm_guest_debug (arm64)");
// KVM_EXIT_DEBUG on arm64: the ESR_EL2 syndrome (its class in bits 31-26) and FAR for a watchpoint.
static inline uint32_t ckvm_run_debug_hsr(const struct kvm_run *r) { return r->debug.arch.hsr; }
static inline uint64_t ckvm_run_debug_far(const struct kvm_run *r) { return r->debug.arch.far; }
// KVM_EXIT_SYSTEM_EVENT's data (PSCI: the reset type); ndata arrived in Linux 5.18 (flags before it).
static inline uint64_t ckvm_run_system_event_data0(const struct kvm_run *r) { return r->system_event.data[0]; }
#endif  // arm64

// Capabilities the arm64 backend asks about; <linux/kvm.h> numbers them on every architecture.
static const int CKVM_CAP_ARM_SVE = KVM_CAP_ARM_SVE;
static const int CKVM_CAP_ARM_PSCI_0_2 = KVM_CAP_ARM_PSCI_0_2;
static const int CKVM_CAP_GUEST_DEBUG_HW_BPS = KVM_CAP_GUEST_DEBUG_HW_BPS;
static const int CKVM_CAP_GUEST_DEBUG_HW_WPS = KVM_CAP_GUEST_DEBUG_HW_WPS;

// Variable-length ioctl arguments (a count followed by a flexible array) are sized here.
static inline size_t ckvm_reg_list_size(uint64_t n) { return sizeof(struct kvm_reg_list) + n * sizeof(uint64_t); }

// Instructions the VMM wrote into guest RAM (an arm64 BRK, and the original put back): on arm64 the data cache
// is cleaned and the instruction cache invalidated to the point of unification for that range (DC CVAU, IC IVAU),
// or a vCPU may run the stale instruction; QEMU does the same (flush_idcache_range). A no-op on x86, whose caches
// are coherent. Swift has no spelling for the builtin.
static inline void ckvm_sync_instruction_cache(void *start, void *end) { __builtin___clear_cache((char *)start, (char *)end); }

#endif
