// Everything in CKVM is inline in ckvm.h; this file exists because SwiftPM wants a source in a C target.
#include "ckvm.h"
