import AltoModels
import AltoTiering
import Testing

/// The words an agent puts in `reason_code` are the ones the central services count by name, so the tiering
/// outcomes on the dashboards never fall into `other` for a reason the agent knows.
@Suite struct ReasonCodeTests {
    @Test func everyTieringErrorHasAReasonTheMetricsCountByName() {
        for code in TieringError.Code.allCases {
            #expect(AgentResult.File.reasonCodes.contains(code.reasonCode), "\(code)")
        }
    }

    @Test func anUnknownReasonIsCountedAsOther() {
        var file = AgentResult.File(fileID: nil, filePath: "/srv/a", outcome: .failed, size: 1)
        #expect(file.reasonLabel == "none")
        file.reasonCode = "in_use"
        #expect(file.reasonLabel == "in_use")
        file.reasonCode = "a word no agent of this version sends \(UInt64.random(in: 0...UInt64.max))"
        #expect(file.reasonLabel == "other")
    }
}
