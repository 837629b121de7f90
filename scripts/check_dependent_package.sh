#!/usr/bin/env bash
# Checks that Loom is usable as a Swift package dependency by version, the way another
# project consumes it:
#   1. clones this repository's HEAD commit into a temp dir and tags it 0.1.0 there (the only tag);
#   2. writes a tiny package that depends on it with
#      `.package(url: "file:///…/Loom", from: "0.1.0")` and the `Loom` product, whose main
#      quantises a matrix with LoomKernels, writes and re-opens it as GGUF with LoomFormats,
#      checks a matrix product against a plain float loop and times it;
#   3. builds it (`swift build -v`) and runs it.
# It fails if SwiftPM rejects the dependency (e.g. "contains unsafe build flags"), if the
# build or the program fails, or if the Loom targets were compiled with the wrong flags:
# without --fast none of Loom's own unsafe flags may reach the compiler; with --fast the
# dependent passes `-Xswiftc -target-cpu -Xswiftc native -Xswiftc -Ounchecked` and those
# must reach Loom's targets.
#
# Usage: scripts/check_dependent_package.sh [--release] [--fast] [--keep]
#   --release  build -c release (default debug: quicker)
#   --fast     add the native-ISA / -Ounchecked flags from the dependent's command line
#   --keep     keep the temp dir (printed) instead of deleting it
# Note: tests the committed HEAD; uncommitted changes are not part of the clone.
set -euo pipefail

config=debug
fast=0
keep=0
for arg in "$@"; do
    case "$arg" in
        --release) config=release ;;
        --fast) fast=1 ;;
        --keep) keep=1 ;;
        *) echo "unknown argument: $arg (expected --release, --fast, --keep)" >&2; exit 2 ;;
    esac
done

repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
head=$(git -C "$repo" rev-parse HEAD)
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
    echo "note: $repo has uncommitted changes; checking the committed HEAD $head only" >&2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/loom-dependent.XXXXXX")
if [ "$keep" = 1 ]; then
    echo "work dir (kept): $work"
else
    trap 'rm -rf "$work"' EXIT
fi

# 1. A clone tagged 0.1.0 (tags copied from the original are dropped so `from: "0.1.0"`
#    can only resolve to this commit).
git clone -q --no-checkout "$repo" "$work/Loom"
git -C "$work/Loom" checkout -q --detach "$head"
git -C "$work/Loom" tag -l | xargs -r git -C "$work/Loom" tag -d >/dev/null
git -C "$work/Loom" -c user.name=check -c user.email=check@localhost tag -a 0.1.0 -m "0.1.0" "$head"

# 2. The dependent package.
app="$work/LoomDependent"
mkdir -p "$app/Sources/LoomDependent"
cat > "$app/Package.swift" <<EOF
// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "LoomDependent",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "file://$work/Loom", from: "0.1.0"),
    ],
    targets: [
        .executableTarget(
            name: "LoomDependent",
            dependencies: [.product(name: "Loom", package: "Loom")]),
    ]
)
EOF
cat > "$app/Sources/LoomDependent/main.swift" <<'EOF'
import Foundation
import LoomFormats
import LoomKernels

// A 1024 × 2048 Q4_0 matrix of deterministic pseudo-random values.
let rows = 1024, columns = 2048, promptTokens = 64
func pseudoRandom(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int64(state >> 33) % 2001 - 1000) / 1000
    }
}
var bytes: [UInt8] = []
for r in 0..<rows { bytes += RowQuantizer.quantize(.q4_0, pseudoRandom(columns, seed: UInt64(r + 1))) }

// Round trip through a GGUF file written and mapped by Loom.
let path = NSTemporaryDirectory() + "loom-dependent-\(getpid()).gguf"
var writer = GGUFWriter()
writer.setMetadata("general.architecture", .string("llama"))
try writer.addTensor(name: "w", type: .q4_0, dimensions: [columns, rows], data: bytes)
try writer.write(to: path)
let file = try GGUFFile(path: path)
defer { try? FileManager.default.removeItem(atPath: path) }
guard let info = file.tensor(named: "w"), Array(file.bytes(for: info)) == bytes else {
    fatalError("GGUF round trip lost the tensor")
}
let w = WeightMatrix(type: .q4_0, rows: rows, columns: columns, base: file.data(for: info))

// One token against a plain float loop over the dequantised rows.
let x = pseudoRandom(columns * promptTokens, seed: 12345)
var y = [Float](repeating: 0, count: rows * promptTokens)
let pool = ThreadPool(threadCount: 1)
MatMul.multiply(w, x, tokens: 1, into: &y, pool: pool)
var row = [Float](repeating: 0, count: columns)
var maxError: Float = 0
for r in 0..<rows {
    w.dequantizeRow(r, into: &row)
    var sum: Float = 0
    for c in 0..<columns { sum += row[c] * x[c] }
    maxError = max(maxError, abs(sum - y[r]) / max(1, abs(sum)))
}
guard maxError < 0.1 else { fatalError("matrix product off by \(maxError)") }

/// Best of up to `repeats` timed calls after one warm-up, stopping after about a second
/// (a debug build is ~1000x slower than a release one).
func seconds(_ repeats: Int, _ body: () -> Void) -> Double {
    func timed() -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
    var best = timed(), total = 0.0
    for _ in 0..<repeats where total < 1 {
        let t = timed()
        best = min(best, t)
        total += t
    }
    return best
}
let decode = seconds(500) { MatMul.multiply(w, x, tokens: 1, into: &y, pool: pool) }
let prompt = seconds(50) { MatMul.multiply(w, x, tokens: promptTokens, into: &y, pool: pool) }
let flops = 2.0 * Double(rows * columns)
print(String(format: "loom-dependent: Q4_0 %dx%d via GGUF, max rel error %.4f; 1 thread, best of runs: "
             + "decode %.1f us (%.2f GFLOP/s), prompt of %d %.2f ms (%.2f GFLOP/s)",
             rows, columns, maxError, decode * 1e6, flops / decode / 1e9, promptTokens, prompt * 1e3,
             flops * Double(promptTokens) / prompt / 1e9))
EOF

# 3. Build (verbose, to see the compiler flags of Loom's targets) and run.
flags=()
if [ "$fast" = 1 ]; then
    flags=(-Xswiftc -target-cpu -Xswiftc native -Xswiftc -Ounchecked)
fi
log="$work/build.log"
echo "building $app (-c $config${flags[*]:+ ${flags[*]}}) ..."
if ! (cd "$app" && swift build -c "$config" "${flags[@]}" -v) > "$log" 2>&1; then
    grep -E "error|warning: .*unsafe" "$log" | head -20 >&2 || true
    if [ "$keep" != 1 ]; then
        cp "$log" "${TMPDIR:-/tmp}/loom-dependent-build.log"
        log="${TMPDIR:-/tmp}/loom-dependent-build.log"
    fi
    echo "FAIL: the dependent package did not build (log: $log)" >&2
    exit 1
fi
kernels=$(grep -E -- "-module-name LoomKernels( |$)" "$log" | head -1 || true)
if [ -z "$kernels" ]; then
    echo "FAIL: found no compile command of LoomKernels in $log" >&2
    exit 1
fi
if [ "$fast" = 1 ]; then
    if ! grep -q -- "-target-cpu native" <<<"$kernels" || ! grep -q -- "-Ounchecked" <<<"$kernels"; then
        echo "FAIL: -Xswiftc flags did not reach LoomKernels" >&2; exit 1
    fi
    echo "ok: LoomKernels compiled with the dependent's -target-cpu native -Ounchecked"
else
    if grep -q -E -- "-target-cpu|-Ounchecked|-enforce-exclusivity" <<<"$kernels"; then
        echo "FAIL: Loom's unsafe flags reached LoomKernels as a dependency" >&2; exit 1
    fi
    echo "ok: LoomKernels compiled without unsafe flags"
fi
(cd "$app" && swift run -c "$config" "${flags[@]}" --skip-build LoomDependent)
echo "PASS: Loom resolved by version (from: \"0.1.0\"), built and ran as a dependency"
