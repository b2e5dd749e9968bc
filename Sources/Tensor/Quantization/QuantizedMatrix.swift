import CSupport
import Foundation

/// A weight matrix [rows (outputs), cols (inputs)] kept in a ggml block format (Q8_0, Q4_0,
/// Q4_1), for the matrix-vector products of decoding: they read 4 to 6 times fewer bytes than
/// float32 weights, and batch-1 decoding is bound by the bytes read. Values decode exactly as
/// `Dequantize` does.
public struct QuantizedMatrix: @unchecked Sendable {
    public static let supportedTypes: Set<GGMLType> = [.q8_0, .q4_0, .q4_1]

    public let type: GGMLType
    public let rows: Int
    public let cols: Int
    public let bytes: Data
    /// The weights repacked for the integer kernel (`saro_quant_pack`: eight rows interleaved),
    /// when this CPU has it and the shape allows; nil means the float kernel.
    public let packed: Data?
    public var rowBytes: Int { type.byteCount(elements: cols) }

    /// Whether products use the integer kernel where the CPU has it: activations rounded to
    /// int8 per 32-wide block as llama.cpp does (about 5 instructions per 32 weights against
    /// about 30 for the float kernel; batch-1 decoding is bound by them). The float kernel
    /// keeps activations exact.
    public static let integerKernelAvailable = saro_quant_packed_supported() != 0

    /// `rowOrder`: row i of the matrix is row rowOrder[i] of `bytes` (GGUF's rotary layout of
    /// q and k). `integerKernel: false` keeps the float kernel even where the integer one runs.
    public init(type: GGMLType, rows: Int, cols: Int, bytes: Data, rowOrder: [Int]? = nil, integerKernel: Bool = true) {
        precondition(QuantizedMatrix.supportedTypes.contains(type), "\(type) has no quantized matmul kernel")
        precondition(cols % type.blockSize == 0, "\(cols) columns are not whole \(type) blocks")
        precondition(bytes.count == rows * type.byteCount(elements: cols), "\(bytes.count) bytes for a \(rows)x\(cols) \(type) matrix")
        self.type = type
        self.rows = rows
        self.cols = cols
        let ordered = rowOrder.map { Self.reordered(bytes, rowBytes: type.byteCount(elements: cols), order: $0) } ?? bytes
        self.bytes = ordered
        packed = integerKernel && Self.integerKernelAvailable ? Self.pack(type: type, rows: rows, cols: cols, bytes: ordered) : nil
    }

    static func pack(type: GGMLType, rows: Int, cols: Int, bytes: Data) -> Data? {
        let id = Int32(type.rawValue)
        let size = saro_quant_packed_bytes(id, rows, cols)
        guard size > 0 else { return nil }
        var out = Data(count: size)
        let written = out.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { saro_quant_pack(id, $0.baseAddress!, type.byteCount(elements: cols), rows, cols, dst.baseAddress!) }
        }
        return written == size ? out : nil
    }

    /// Rows of `rb` bytes reordered: row i of the result is row order[i] of `bytes`.
    static func reordered(_ bytes: Data, rowBytes rb: Int, order: [Int]) -> Data {
        precondition(order.count * rb == bytes.count, "a row order of \(order.count) rows for \(bytes.count / rb)")
        var out = Data(count: bytes.count)
        out.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in
                for (i, r) in order.enumerated() {
                    (dst.baseAddress! + i * rb).copyMemory(from: src.baseAddress! + r * rb, byteCount: rb)
                }
            }
        }
        return out
    }

    /// y [n, rows] = x [n, cols] W^T, spread over the cores by output rows.
    public func matmul(_ x: Tensor) -> Tensor {
        if let packed {
            return packed.withUnsafeBytes { raw in
                FewRowsMatmul.runPacked(typeId: Int32(type.rawValue), packed: raw.baseAddress!, outputs: rows, cols: cols, x: x)
            }
        }
        return bytes.withUnsafeBytes { raw in
            FewRowsMatmul.run(typeId: Int32(type.rawValue), weights: raw.baseAddress!, rowBytes: rowBytes, outputs: rows, cols: cols, x: x)
        }
    }

    /// The matrix decoded to float32 [rows, cols].
    public func dequantized() -> Tensor {
        let out = Tensor(uninitialized: [rows, cols])
        bytes.withUnsafeBytes { Dequantize.run(type, $0.baseAddress!, count: rows * cols, into: out.data) }
        return out
    }
}

/// x [n, k] W^T for a few rows n (decoding) in one pass over W's rows: the kernel behind
/// `QuantizedMatrix.matmul`, also used for float32 weights. BLAS's sgemm packs all of W for
/// every call, which for 16 rows costs more than the arithmetic (measured 3x slower at
/// batch-16 decoding of SmolLM2).
public enum FewRowsMatmul {
    /// Whether float32 weights [outputs, cols] can go through the kernel: whole 32-wide blocks.
    public static func supports(float32 weight: Tensor) -> Bool {
        weight.rank == 2 && weight.shape[1] % 32 == 0 && weight.isContiguous
    }

    /// x [..., cols] W^T for a contiguous float32 W [outputs, cols].
    public static func float32(_ x: Tensor, weight: Tensor) -> Tensor {
        precondition(supports(float32: weight), "few-rows matmul needs a contiguous [n, 32k] weight, got \(weight.shape)")
        let cols = weight.shape[1]
        return run(typeId: Int32(GGMLType.f32.rawValue), weights: UnsafeRawPointer(weight.data), rowBytes: cols * 4,
                   outputs: weight.shape[0], cols: cols, x: x)
    }

    static func run(typeId: Int32, weights: UnsafeRawPointer, rowBytes: Int, outputs: Int, cols: Int, x: Tensor) -> Tensor {
        precondition(x.shape.last == cols, "few-rows matmul: input \(x.shape) for \(outputs)x\(cols) weights")
        let xc = x.contiguous()
        let n = xc.count / cols
        let y = Tensor(uninitialized: Array(x.shape.dropLast()) + [outputs])
        let xp = xc.data, yp = y.data
        Parallel.forRanges(outputs, minPerThread: 64, lowLatency: true) { r in
            let status = saro_quant_matmul(typeId, weights, rowBytes, cols, xp, cols, n, yp, outputs, r.lowerBound, r.upperBound)
            precondition(status == 0, "no few-rows kernel for ggml type \(typeId)")
        }
        return y
    }

    /// The integer kernel over weights in `saro_quant_pack`'s layout, spread over the cores by
    /// groups of eight output rows.
    static func runPacked(typeId: Int32, packed: UnsafeRawPointer, outputs: Int, cols: Int, x: Tensor) -> Tensor {
        precondition(x.shape.last == cols && outputs % 8 == 0, "few-rows matmul: input \(x.shape) for \(outputs)x\(cols) packed weights")
        let xc = x.contiguous()
        let n = xc.count / cols
        let y = Tensor(uninitialized: Array(x.shape.dropLast()) + [outputs])
        let xp = xc.data, yp = y.data
        Parallel.forRanges(outputs / 8, minPerThread: 8, lowLatency: true) { g in
            let status = saro_quant_matmul_packed(typeId, packed, cols, xp, cols, n, yp, outputs, g.lowerBound, g.upperBound)
            precondition(status == 0, "the integer few-rows kernel failed for ggml type \(typeId) (status \(status))")
        }
        return y
    }
}
