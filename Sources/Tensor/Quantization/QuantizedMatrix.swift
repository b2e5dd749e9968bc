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
    public var rowBytes: Int { type.byteCount(elements: cols) }

    public init(type: GGMLType, rows: Int, cols: Int, bytes: Data) {
        precondition(QuantizedMatrix.supportedTypes.contains(type), "\(type) has no quantized matmul kernel")
        precondition(cols % type.blockSize == 0, "\(cols) columns are not whole \(type) blocks")
        precondition(bytes.count == rows * type.byteCount(elements: cols), "\(bytes.count) bytes for a \(rows)x\(cols) \(type) matrix")
        self.type = type
        self.rows = rows
        self.cols = cols
        self.bytes = bytes
    }

    /// The same matrix with its rows reordered: row i of the result is row order[i] of self.
    public func reorderingRows(_ order: [Int]) -> QuantizedMatrix {
        precondition(order.count == rows)
        var out = Data(count: bytes.count)
        let rb = rowBytes
        out.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in
                for (i, r) in order.enumerated() {
                    (dst.baseAddress! + i * rb).copyMemory(from: src.baseAddress! + r * rb, byteCount: rb)
                }
            }
        }
        return QuantizedMatrix(type: type, rows: rows, cols: cols, bytes: out)
    }

    /// y [n, rows] = x [n, cols] W^T, spread over the cores by output rows.
    public func matmul(_ x: Tensor) -> Tensor {
        precondition(x.shape.last == cols, "quantized matmul: input \(x.shape) for \(rows)x\(cols) weights")
        let xc = x.contiguous()
        let n = xc.count / cols
        let y = Tensor(uninitialized: Array(x.shape.dropLast()) + [rows])
        let rb = rowBytes, k = cols, outRows = rows, t = Int32(type.rawValue)
        let xp = xc.data, yp = y.data
        bytes.withUnsafeBytes { raw in
            let w = raw.baseAddress!
            Parallel.forRanges(outRows, minPerThread: 64) { r in
                _ = saro_quant_matmul(t, w, rb, k, xp, k, n, yp, outRows, r.lowerBound, r.upperBound)
            }
        }
        return y
    }

    /// The matrix decoded to float32 [rows, cols].
    public func dequantized() -> Tensor {
        let out = Tensor(uninitialized: [rows, cols])
        bytes.withUnsafeBytes { Dequantize.run(type, $0.baseAddress!, count: rows * cols, into: out.data) }
        return out
    }
}
