/// What is wrong with a rule an admin wrote, naming the field, so the API can answer a 400 the admin can act on.
public struct RuleProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}

extension TieringRule {
    /// Every check that needs nothing but the rule itself; the target's existence and the priority's uniqueness
    /// need the tenant's other rows and are checked where those are.
    public func validate() throws(RuleProblem) {
        if name.trimmingCharacters(in: .whitespaces).isEmpty { throw RuleProblem(field: "name", message: "must not be empty") }
        if priority < 0 { throw RuleProblem(field: "priority", message: "must be 0 or more, got \(priority)") }
        for glob in pathGlobs where glob.isEmpty {
            throw RuleProblem(field: "path_globs", message: "a glob must not be empty")
        }
        if let pathRegex {
            do { _ = try PathRegex(pathRegex) } catch {
                throw RuleProblem(field: "path_regex", message: "does not compile: \(error)")
            }
        }
        if let days = minDaysSinceModified, days < 0 {
            throw RuleProblem(field: "min_days_since_modified", message: "must be 0 or more, got \(days)")
        }
        if let days = minDaysSinceAccessed, days < 0 {
            throw RuleProblem(field: "min_days_since_accessed", message: "must be 0 or more, got \(days)")
        }
        if let minSize, minSize < 0 { throw RuleProblem(field: "min_size", message: "must be 0 or more, got \(minSize)") }
        if let maxSize, maxSize < 0 { throw RuleProblem(field: "max_size", message: "must be 0 or more, got \(maxSize)") }
        if let minSize, let maxSize, minSize > maxSize {
            throw RuleProblem(field: "min_size", message: "\(minSize) is above max_size \(maxSize)")
        }
        for (field, list) in [("include_extensions", includeExtensions), ("exclude_extensions", excludeExtensions)] {
            for item in list where item.isEmpty || item.contains("/") || item.contains("\\") {
                throw RuleProblem(field: field, message: "\"\(item)\" is not a file extension")
            }
        }
        let included = Set(includeExtensions.map(RuleEvaluator.normalizedExtension))
        if let both = excludeExtensions.map(RuleEvaluator.normalizedExtension).first(where: included.contains) {
            throw RuleProblem(field: "exclude_extensions", message: "\"\(both)\" is also in include_extensions")
        }
        if let maxFilesPerRun, maxFilesPerRun <= 0 {
            throw RuleProblem(field: "max_files_per_run", message: "must be above 0, got \(maxFilesPerRun)")
        }
        if let maxBytesPerRun, maxBytesPerRun <= 0 {
            throw RuleProblem(field: "max_bytes_per_run", message: "must be above 0, got \(maxBytesPerRun)")
        }
        if let schedule {
            for (field, text) in [("schedule.start", schedule.start), ("schedule.end", schedule.end)]
            where ScheduleWindow.minutes(text) == nil {
                throw RuleProblem(field: field, message: "\"\(text)\" is not a time of day as HH:MM (UTC)")
            }
            if let day = schedule.days.first(where: { !(1...7).contains($0) }) {
                throw RuleProblem(field: "schedule.days", message: "\(day) is not an ISO weekday (1 is Monday, 7 Sunday)")
            }
        }
        if let watermark {
            guard (0...100).contains(watermark.lowPercent), (0...100).contains(watermark.highPercent) else {
                throw RuleProblem(field: "watermark", message: "percentages must be between 0 and 100")
            }
            if watermark.lowPercent >= watermark.highPercent {
                throw RuleProblem(field: "watermark.low_percent",
                                  message: "\(watermark.lowPercent) must be below high_percent \(watermark.highPercent)")
            }
        }
    }
}
