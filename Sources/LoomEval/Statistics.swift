import Foundation

/// Small descriptive statistics used by the reports.
public enum Statistics {
    /// The `fraction` quantile (0…1) of `sorted` values by linear interpolation between the
    /// nearest ranks (numpy's default); NaN for an empty array.
    public static func quantile(_ sorted: [Double], _ fraction: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let position = fraction * Double(sorted.count - 1)
        let low = Int(position.rounded(.down))
        let high = min(low + 1, sorted.count - 1)
        let weight = position - Double(low)
        return sorted[low] * (1 - weight) + sorted[high] * weight
    }

    /// Mean and its standard error (sample standard deviation / √n); error 0 for n < 2.
    public static func meanAndError(_ values: [Double]) -> (mean: Double, error: Double) {
        guard !values.isEmpty else { return (.nan, .nan) }
        let n = Double(values.count)
        let mean = values.reduce(0, +) / n
        guard values.count > 1 else { return (mean, 0) }
        let squares = values.reduce(0) { $0 + $1 * $1 } / n
        let variance = max(0, squares - mean * mean)
        return (mean, sqrt(variance / (n - 1)))
    }
}
