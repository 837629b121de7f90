// ``IntegerPromptKernel`` for the K-quants Q3_K, Q4_K, Q5_K and Q6_K: their rows unpacked into the
// kernel's tile of 16-bit codes with one float scale per 32 columns, so prompts of the most
// used GGUF mixes (Q4_K_M, Q5_K_M, Q6_K) run on integer pair products (`vpmaddwd`) instead
// of dequantised f32 tiles (``BatchMicroKernel``). On one AVX2 core, 1024×4096 weights × 512
// tokens: the integer kernel ≈ 56–58 multiply-adds/ns against ≈ 45 for the f32 6×16 block
// (BENCHMARKS.md, issue #29).
//
// Every weight is stored exactly as an integer times a per-block float:
// - Q4_K/Q5_K (ggml `dequantize_row_q4_K`): w = d·sc·q − dmin·m per group of 32, with 6-bit
//   sc and m. The code is sc·q (≤ 63·31 = 1953) with block scale d, and the tile keeps the
//   block offset −dmin·m; the kernel adds offset · Σ x over the block, from the block sums of
//   the activations as quantised (``QuantizedActivations/sums``), as llama.cpp's `Q8_K`
//   `bsums` do for the same term.
// - Q6_K (`dequantize_row_q6_K`): w = d·sc·(q − 32) per group of 16 with 8-bit signed sc, two
//   groups in a block of 32. The code is sc·(q − 32) (|·| ≤ 128·32 = 4096) with block scale d.
//   With 15-bit activation codes a block's sum stays below 32·4096·16383 < 2³¹.
// - Q3_K (`dequantize_row_q3_K`): w = d·(s − 32)·(q − 4) per group of 16, 6-bit s and 3-bit
//   q. The code is (s − 32)·(q − 4) (|·| ≤ 128) with block scale d.
// Q2_K is not here: its minimums change every 16 columns, and the kernel adds one offset
// per block of 32 (it keeps the f32 tile path).
//
// These codes are the integers of ggml's own dequantisation, so the only rounding is the
// activations' (15-bit codes, ``promptCodeLimit``) and the float accumulation; the K-quants'
// decode kernels use 10-bit codes and their own sum order, so a K-quant prompt row and the
// same row decoded alone agree to rounding, not bit for bit (``supports(_:)`` stays false
// for them, and decode batches never take this path).

extension IntegerPromptKernel {
    /// ``unpack(_:rows:into:)`` for Q3_K, Q4_K, Q5_K and Q6_K rows (see the file header).
    static func unpackKQuant(_ w: WeightMatrix, rows: Range<Int>, into tile: UnsafeMutableRawPointer) {
        let n = w.columns
        let blocks = n / 32
        let superBlocks = n / 256
        let codes = tile.bindMemory(to: Int16.self, capacity: rows.count * n)
        let scales = UnsafeMutableRawPointer(codes + rows.count * n).bindMemory(to: Float.self, capacity: 2 * rows.count * blocks)
        let offsets = scales + rows.count * blocks
        for (i, r) in rows.enumerated() {
            let row = w.row(r)
            for s in 0..<superBlocks {
                let out = UnsafeMutableRawPointer(codes + i * n + 256 * s)
                let blockScales = scales + i * blocks + 8 * s
                switch w.type {
                case .q4_K, .q5_K:
                    let isQ5 = w.type == .q5_K
                    let p = row + (isQ5 ? BlockQ5_K.bytes : BlockQ4_K.bytes) * s
                    let d = loadHalf(p, 0), dmin = loadHalf(p, 2)
                    let (sc, m) = BlockQ4_K.scalesAndMins(p, at: 4)
                    for g in 0..<8 {
                        blockScales[g] = d
                        offsets[i * blocks + 8 * s + g] = -(dmin * Float(m[g]))
                    }
                    for half in 0..<2 {
                        let qh = isQ5 ? loadBytes16(p, 16 + 16 * half) : SIMD16<UInt8>()
                        for c in 0..<4 {
                            var low: SIMD16<UInt8>, high: SIMD16<UInt8>
                            if isQ5 {
                                (low, high) = BlockQ5_K.codes(loadBytes16(p, 48 + 32 * c + 16 * half), qh, chunk: c)
                            } else {
                                let q = loadBytes16(p, 16 + 32 * c + 16 * half)
                                (low, high) = (q & 0x0F, q &>> 4)
                            }
                            // Chunk c: group 2c takes the low codes, group 2c + 1 the high ones.
                            let element = 64 * c + 16 * half
                            out.storeBytes(of: widenSigned(low) &* SIMD16(repeating: Int16(sc[2 * c])),
                                           toByteOffset: 2 * element, as: SIMD16<Int16>.self)
                            out.storeBytes(of: widenSigned(high) &* SIMD16(repeating: Int16(sc[2 * c + 1])),
                                           toByteOffset: 2 * (element + 32), as: SIMD16<Int16>.self)
                        }
                    }
                case .q6_K:
                    let p = row + BlockQ6_K.bytes * s
                    let d = loadHalf(p, 208)
                    for g in 0..<8 { blockScales[g] = d }
                    for h in 0..<2 {
                        for g in 0..<2 {
                            // Vector j holds elements 128h + 16g + 32j ..< +16, of group 8h + g + 2j.
                            let (q1, q2, q3, q4) = BlockQ6_K.codes(p, half: h, group: g)
                            @inline(__always) func store(_ q: SIMD16<UInt8>, _ j: Int) {
                                let groupScale = Int16(p.load(fromByteOffset: 192 + 8 * h + g + 2 * j, as: Int8.self))
                                out.storeBytes(of: widenSigned(q) &* SIMD16(repeating: groupScale),
                                               toByteOffset: 2 * (128 * h + 16 * g + 32 * j), as: SIMD16<Int16>.self)
                            }
                            store(q1, 0); store(q2, 1); store(q3, 2); store(q4, 3)
                        }
                    }
                case .q3_K:
                    let p = row + BlockQ3_K.bytes * s
                    let d = loadHalf(p, 108)
                    for g in 0..<8 { blockScales[g] = d }
                    let groupScales = BlockQ3_K.signedScales(p)
                    for g in 0..<2 {
                        let hm = loadBytes16(p, 16 * g)
                        for h in 0..<2 {
                            let q = loadBytes16(p, 32 + 32 * h + 16 * g)
                            for j in 0..<4 {
                                // Elements 128h + 32j + 16g ..< +16, of group 8h + 2j + g.
                                let groupScale = Int16(Int8(bitPattern: groupScales[8 * h + 2 * j + g]))
                                out.storeBytes(of: widenSigned(BlockQ3_K.codes(q, hm, plane: j, half: h)) &* SIMD16(repeating: groupScale),
                                               toByteOffset: 2 * (128 * h + 32 * j + 16 * g), as: SIMD16<Int16>.self)
                            }
                        }
                    }
                default:
                    fatalError("IntegerPromptKernel: no K-quant prompt kernel for \(w.type)")
                }
            }
        }
    }
}
