import Foundation

/// Small inline SVG charts for the report: no scripts, no network.
enum SVG {
    static let palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    static func legend(_ names: [String], x: Double, y: Double) -> String {
        names.enumerated().map { i, n in
            "<rect x=\"\(f(x))\" y=\"\(f(y + Double(i) * 18))\" width=\"12\" height=\"12\" fill=\"\(palette[i % palette.count])\"/>" +
                "<text x=\"\(f(x + 18))\" y=\"\(f(y + Double(i) * 18 + 10))\" font-size=\"12\">\(escape(n))</text>"
        }.joined()
    }

    /// Grouped vertical bars: one group per category, one bar per series; values in [0, maxValue].
    static func bars(title: String, categories: [String], series: [(String, [Double?])], maxValue: Double = 1, percent: Bool = true) -> String {
        let width = max(480.0, Double(categories.count) * (Double(series.count) * 14 + 18) + 180), height = 300.0
        let left = 50.0, bottom = 90.0, top = 30.0, plotH = height - bottom - top
        let groupW = (width - left - 150) / Double(max(1, categories.count))
        let barW = max(3, min(18, (groupW - 8) / Double(max(1, series.count))))
        var s = "<svg width=\"\(f(width))\" height=\"\(f(height))\" role=\"img\"><title>\(escape(title))</title>"
        s += "<text x=\"\(f(left))\" y=\"18\" font-size=\"14\" font-weight=\"bold\">\(escape(title))</text>"
        for t in 0...4 {
            let v = maxValue * Double(t) / 4, y = top + plotH * (1 - Double(t) / 4)
            s += "<line x1=\"\(f(left))\" x2=\"\(f(width - 150))\" y1=\"\(f(y))\" y2=\"\(f(y))\" stroke=\"#ddd\"/>"
            s += "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" font-size=\"10\" text-anchor=\"end\">\(percent ? "\(Int((v * 100).rounded()))%" : String(format: "%.2g", v))</text>"
        }
        for (ci, c) in categories.enumerated() {
            let gx = left + Double(ci) * groupW + 4
            for (si, (_, values)) in series.enumerated() {
                guard let v = values[ci] else { continue }
                let h = plotH * min(1, max(0, v / maxValue))
                s += "<rect x=\"\(f(gx + Double(si) * barW))\" y=\"\(f(top + plotH - h))\" width=\"\(f(barW - 1))\" height=\"\(f(h))\" fill=\"\(palette[si % palette.count])\"><title>\(escape(series[si].0)) \(escape(c)): \(String(format: "%.3f", v))</title></rect>"
            }
            let lx = gx + Double(series.count) * barW / 2
            s += "<text transform=\"translate(\(f(lx)),\(f(top + plotH + 10))) rotate(40)\" font-size=\"10\">\(escape(c))</text>"
        }
        s += legend(series.map(\.0), x: width - 140, y: top)
        return s + "</svg>"
    }

    /// A scatter plot of labelled points.
    static func scatter(title: String, points: [(x: Double, y: Double, group: String)], groups: [String]) -> String {
        let size = 360.0, pad = 30.0
        let xs = points.map(\.x), ys = points.map(\.y)
        let (x0, x1) = (xs.min() ?? 0, xs.max() ?? 1), (y0, y1) = (ys.min() ?? 0, ys.max() ?? 1)
        func px(_ x: Double) -> Double { pad + (x - x0) / max(x1 - x0, 1e-12) * (size - 2 * pad) }
        func py(_ y: Double) -> Double { size - pad - (y - y0) / max(y1 - y0, 1e-12) * (size - 2 * pad) }
        var s = "<svg width=\"\(f(size + 120))\" height=\"\(f(size))\" role=\"img\"><title>\(escape(title))</title>"
        s += "<rect x=\"\(f(pad))\" y=\"\(f(pad))\" width=\"\(f(size - 2 * pad))\" height=\"\(f(size - 2 * pad))\" fill=\"none\" stroke=\"#ccc\"/>"
        s += "<text x=\"\(f(pad))\" y=\"18\" font-size=\"13\" font-weight=\"bold\">\(escape(title))</text>"
        for p in points {
            let i = groups.firstIndex(of: p.group) ?? 0
            s += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"3.5\" fill=\"\(palette[i % palette.count])\" fill-opacity=\"0.75\"/>"
        }
        s += legend(groups, x: size, y: pad)
        return s + "</svg>"
    }

    /// Rates against rates on axes from 0 to the largest value rounded up to a multiple of 20%
    /// (ticks every 5% to 25%): each series' points as dots (hover: their labels) and its
    /// frontier as a line.
    static func frontier(title: String, xTitle: String, yTitle: String,
                         series: [(String, [(x: Double, y: Double, label: String)], [(x: Double, y: Double)])]) -> String {
        let width = 560.0, height = 400.0, left = 60.0, right = 150.0, top = 30.0, bottom = 50.0
        let all = series.flatMap(\.1)
        func axisEnd(_ v: Double) -> Double { min(1, max(0.2, (v / 0.2).rounded(.up) * 0.2)) }
        let xMax = axisEnd(all.map(\.x).max() ?? 0), yMax = axisEnd(all.map(\.y).max() ?? 0)
        func px(_ x: Double) -> Double { left + x / xMax * (width - left - right) }
        func py(_ y: Double) -> Double { height - bottom - y / yMax * (height - top - bottom) }
        var s = "<svg width=\"\(f(width))\" height=\"\(f(height))\" role=\"img\"><title>\(escape(title))</title>"
        s += "<text x=\"\(f(left))\" y=\"18\" font-size=\"13\" font-weight=\"bold\">\(escape(title))</text>"
        s += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(width - left - right))\" height=\"\(f(height - top - bottom))\" fill=\"none\" stroke=\"#ccc\"/>"
        for t in 0...4 {
            let fx = xMax * Double(t) / 4, fy = yMax * Double(t) / 4
            s += "<text x=\"\(f(px(fx)))\" y=\"\(f(height - bottom + 14))\" font-size=\"10\" text-anchor=\"middle\">\(Int((fx * 100).rounded()))%</text>"
            s += "<text x=\"\(f(left - 6))\" y=\"\(f(py(fy) + 4))\" font-size=\"10\" text-anchor=\"end\">\(Int((fy * 100).rounded()))%</text>"
        }
        s += "<text x=\"\(f((left + width - right) / 2))\" y=\"\(f(height - 12))\" font-size=\"11\" text-anchor=\"middle\">\(escape(xTitle))</text>"
        s += "<text transform=\"translate(14,\(f((top + height - bottom) / 2))) rotate(-90)\" font-size=\"11\" text-anchor=\"middle\">\(escape(yTitle))</text>"
        for (i, (name, points, front)) in series.enumerated() {
            let colour = palette[i % palette.count]
            if front.count > 1 {
                s += "<polyline points=\"\(front.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " "))\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.8\"/>"
            }
            for p in points {
                s += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"4\" fill=\"\(colour)\"><title>\(escape(p.label)) (\(escape(name))): "
                    + String(format: "%.1f%% refused, %.1f%% ASR", p.x * 100, p.y * 100) + "</title></circle>"
            }
        }
        s += legend(series.map(\.0), x: width - right + 10, y: top)
        return s + "</svg>"
    }

    /// Line chart of several series of (x, y) points.
    static func lines(title: String, series: [(String, [[Double]])]) -> String {
        let width = 520.0, height = 260.0, left = 55.0, right = 140.0, top = 28.0, bottom = 30.0
        let all = series.flatMap(\.1)
        guard !all.isEmpty else { return "" }
        let (x0, x1) = (all.map { $0[0] }.min()!, all.map { $0[0] }.max()!), (y0, y1) = (all.map { $0[1] }.min()!, all.map { $0[1] }.max()!)
        func px(_ x: Double) -> Double { left + (x - x0) / max(x1 - x0, 1e-12) * (width - left - right) }
        func py(_ y: Double) -> Double { height - bottom - (y - y0) / max(y1 - y0, 1e-12) * (height - top - bottom) }
        var s = "<svg width=\"\(f(width))\" height=\"\(f(height))\" role=\"img\"><title>\(escape(title))</title>"
        s += "<text x=\"\(f(left))\" y=\"16\" font-size=\"13\" font-weight=\"bold\">\(escape(title))</text>"
        s += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(width - left - right))\" height=\"\(f(height - top - bottom))\" fill=\"none\" stroke=\"#ccc\"/>"
        for (v, y) in [(y1, py(y1)), (y0, py(y0))] { s += "<text x=\"\(f(left - 4))\" y=\"\(f(y + 4))\" font-size=\"10\" text-anchor=\"end\">\(String(format: "%.3g", v))</text>" }
        s += "<text x=\"\(f(left))\" y=\"\(f(height - 12))\" font-size=\"10\">step \(Int(x0))</text><text x=\"\(f(width - right))\" y=\"\(f(height - 12))\" font-size=\"10\" text-anchor=\"end\">\(Int(x1))</text>"
        for (i, (_, pts)) in series.enumerated() {
            let path = pts.sorted { $0[0] < $1[0] }.map { "\(f(px($0[0]))),\(f(py($0[1])))" }.joined(separator: " ")
            s += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(palette[i % palette.count])\" stroke-width=\"1.8\"/>"
        }
        s += legend(series.map(\.0), x: width - right + 10, y: top)
        return s + "</svg>"
    }
}
