/// A volume free-space policy: when a managed volume is used above `highPercent`, its coldest matching files are
/// planned until the estimate brings it under `lowPercent`.
public struct Watermark: Codable, Sendable, Equatable {
    public var highPercent: Double
    public var lowPercent: Double

    public init(highPercent: Double, lowPercent: Double) {
        self.highPercent = highPercent
        self.lowPercent = lowPercent
    }

    enum CodingKeys: String, CodingKey {
        case highPercent = "high_percent"
        case lowPercent = "low_percent"
    }
}
