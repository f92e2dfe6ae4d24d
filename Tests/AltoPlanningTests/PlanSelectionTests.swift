import AltoModels
import AltoPlanning
import Foundation
import Testing

@Suite struct PlanSelectionTests {
    let target = UUID()

    /// Files 1…n, file i last used i days after 1970 and i KiB large.
    func candidates(_ count: Int, volume: Int32 = -1) -> [PlanCandidate] {
        (1...count).map { PlanCandidate(fileID: Int64($0), size: Int64($0) << 10, lastUsed: Double($0) * 86_400, volume: volume) }.shuffled()
    }

    @Test func coldestFirstOrLargestFirst() {
        let coldest = TieringRule(name: "c", priority: 1, targetID: target, maxFilesPerRun: 3)
        let largest = TieringRule(name: "l", priority: 2, targetID: target, candidateOrder: .largest, maxFilesPerRun: 3)
        let taken = PlanSelection.select(rules: [coldest, largest], matched: [candidates(10), candidates(10)], volumes: [])
        #expect(taken[0].candidates.map(\.fileID) == [1, 2, 3])
        #expect(taken[1].candidates.map(\.fileID) == [10, 9, 8])
        #expect(taken[0].deferred == 7)
    }

    @Test func ruleCapsOnFilesAndBytes() {
        let rule = TieringRule(name: "c", priority: 1, targetID: target, maxBytesPerRun: 10 << 10)
        let taken = PlanSelection.select(rules: [rule], matched: [candidates(10)], volumes: [])
        #expect(taken[0].bytes <= 10 << 10)
        #expect(taken[0].candidates.map(\.fileID) == [1, 2, 3, 4], "1+2+3+4 KiB fit, 5 more would not")
    }

    @Test func runCapsHoldAcrossRulesInPriorityOrder() {
        let first = TieringRule(name: "a", priority: 1, targetID: target)
        let second = TieringRule(name: "b", priority: 2, targetID: target)
        let taken = PlanSelection.select(rules: [first, second], matched: [candidates(4), candidates(4)], volumes: [],
                                         caps: .init(maxFiles: 6))
        #expect(taken[0].candidates.count == 4)
        #expect(taken[1].candidates.count == 2)
        #expect(taken[1].deferred == 2)
    }

    @Test func aWatermarkPlanStopsAtTheLowWatermarkNotBeforeAndNotFarPast() {
        // 1 MiB volume, 95 % used; the low watermark of 70 % needs 25 % of it freed: 262,144 bytes minus rounding.
        let volume = ManagedVolume(mountPoint: "/vol", totalBytes: 1 << 20, usedBytes: Int64(Double(1 << 20) * 0.95))
        let rule = TieringRule(name: "space", priority: 1, targetID: target, watermark: Watermark(highPercent: 90, lowPercent: 70))
        let matched = (1...400).map { PlanCandidate(fileID: Int64($0), size: 4096, lastUsed: Double($0), volume: 0) }
        let taken = PlanSelection.select(rules: [rule], matched: [matched], volumes: [volume])
        let needed = volume.bytesAbove(percent: 70)
        #expect(taken[0].bytes >= needed, "the plan reaches the low watermark")
        #expect(taken[0].bytes - needed < 4096, "and goes past it by less than one file")
        #expect(taken[0].candidates.map(\.fileID) == Array(1...Int64(taken[0].candidates.count)), "coldest first")
        let after = Double(volume.usedBytes - taken[0].bytes) / Double(volume.totalBytes) * 100
        #expect(after <= 70 && after > 69.5)
    }

    @Test func bytesAnEarlierRuleFreesOnAVolumeCountTowardsTheWatermark() {
        let volume = ManagedVolume(mountPoint: "/vol", totalBytes: 100_000, usedBytes: 95_000)
        let dated = TieringRule(name: "dated", priority: 1, targetID: target)
        let space = TieringRule(name: "space", priority: 2, targetID: target, watermark: Watermark(highPercent: 90, lowPercent: 80))
        let early = [PlanCandidate(fileID: 1, size: 10_000, lastUsed: 1, volume: 0)]
        let late = (2...10).map { PlanCandidate(fileID: Int64($0), size: 1_000, lastUsed: Double($0), volume: 0) }
        let taken = PlanSelection.select(rules: [dated, space], matched: [early, late], volumes: [volume])
        #expect(taken[1].bytes == 5_000, "15,000 must go; the dated rule already frees 10,000")
    }

    @Test func aWatermarkRuleLeavesFilesOffHotVolumesAlone() {
        let volume = ManagedVolume(mountPoint: "/vol", totalBytes: 100, usedBytes: 99)
        let rule = TieringRule(name: "space", priority: 1, targetID: target, watermark: Watermark(highPercent: 90, lowPercent: 50))
        let taken = PlanSelection.select(rules: [rule], matched: [[PlanCandidate(fileID: 1, size: 10, lastUsed: 0, volume: -1)]],
                                         volumes: [volume])
        #expect(taken[0].candidates.isEmpty)
    }
}
