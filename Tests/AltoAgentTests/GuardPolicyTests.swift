@testable import AltoAgent
import Glibc
import Testing

/// The stub guard's answer to every kind of open and read, without fanotify: what a user's program gets when it
/// touches a file on a managed root.
@Suite struct GuardPolicyTests {
    let policy = GuardPolicy(scanners: ["clamscan"], previewPrograms: ["file"])

    func access(_ kind: GuardPolicy.Access.Kind, program: String = "cat", resident: Int64? = 4096,
                fromAlto: Bool = false) -> GuardPolicy.Access {
        GuardPolicy.Access(kind: kind, isFromAlto: fromAlto, residentBytes: resident, program: program)
    }

    @Test func anOrdinaryFileIsLeftAloneAndNotAskedAboutAgain() {
        for kind in [GuardPolicy.Access.Kind.open, .read(range: 0..<10), .read(range: nil)] {
            #expect(policy.decide(access(kind, resident: nil), writesTheFile: { true }) == .allow(ignoreFurther: true))
        }
    }

    @Test func altoItselfNeverWaitsForItsOwnRecall() {
        for kind in [GuardPolicy.Access.Kind.open, .read(range: 0..<1 << 30), .read(range: nil)] {
            #expect(policy.decide(access(kind, program: "clamscan", fromAlto: true), writesTheFile: { true }) == .allow(ignoreFurther: false))
        }
    }

    @Test func aScanningProgramIsRefusedWhateverItDoes() {
        for kind in [GuardPolicy.Access.Kind.open, .read(range: 0..<10), .read(range: nil)] {
            #expect(policy.decide(access(kind, program: "clamscan"), writesTheFile: { false }) == .refuse(errno: EPERM))
        }
    }

    @Test func anyOtherProgramOpeningAStubRecallsIt() {
        #expect(policy.decide(access(.open), writesTheFile: { false }) == .recall)
        #expect(policy.decide(access(.open, program: "cp"), writesTheFile: { false }) == .recall)
    }

    @Test func aHeaderSnifferOpensTheStubsPreviewWhenThereIsOne() {
        #expect(policy.decide(access(.open, program: "file"), writesTheFile: { false }) == .preview)
        #expect(policy.decide(access(.open, program: "file", resident: 0), writesTheFile: { false }) == .recall)
    }

    @Test func aReadInsideThePreviewIsServedFromDiskUnlessTheReaderAlsoWrites() {
        #expect(policy.decide(access(.read(range: 0..<4096)), writesTheFile: { false }) == .preview)
        #expect(policy.decide(access(.read(range: 100..<200)), writesTheFile: { true }) == .recall)
    }

    @Test func aReadPastThePreviewOrOfUnknownExtentRecalls() {
        var asked = false
        #expect(policy.decide(access(.read(range: 4000..<4097)), writesTheFile: { asked = true; return false }) == .recall)
        #expect(!asked, "/proc is read only for reads inside the preview")
        #expect(policy.decide(access(.read(range: nil)), writesTheFile: { false }) == .recall)
        #expect(policy.decide(access(.read(range: 0..<1), resident: 0), writesTheFile: { false }) == .recall)
    }
}
