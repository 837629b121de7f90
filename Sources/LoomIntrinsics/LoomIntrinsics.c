// SwiftPM needs one source file per C target; everything is in the header.
#include "LoomIntrinsics.h"
