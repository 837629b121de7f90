import Synchronization
import XCTest
@testable import LoomKernels

final class ThreadPoolTests: XCTestCase {
    /// Every index is visited exactly once, across many dispatches (the epoch/spin logic).
    func testParallelForVisitsEachIndexOnce() {
        let pool = ThreadPool(threadCount: 3)
        for round in 0..<2000 {
            let count = 1 + round % 97
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: count)
            hits.initialize(repeating: 0, count: count)
            pool.parallelFor(count: count, chunk: 1 + round % 5) { range, _ in
                for i in range { hits[i] += 1 }   // chunks are disjoint: no two threads share an index
            }
            for i in 0..<count { XCTAssertEqual(hits[i], 1, "round \(round) index \(i)") }
            hits.deallocate()
        }
    }

    /// Every participant runs once per `run`, and workers woken from sleep still do.
    func testRunReachesEveryWorkerAfterSleeping() {
        let pool = ThreadPool(threadCount: 2)
        let counter = Atomic<Int>(0)
        pool.run { _ in counter.add(1, ordering: .relaxed) }
        usleep(300_000)  // long enough for the worker to stop spinning and sleep
        pool.run { _ in counter.add(1, ordering: .relaxed) }
        XCTAssertEqual(counter.load(ordering: .relaxed), 4)
    }

    func testPoolsCanBeCreatedAndDestroyed() {
        for _ in 0..<20 {
            let pool = ThreadPool(threadCount: 2)
            var sum = 0
            pool.parallelFor(count: 1, chunk: 1) { r, _ in sum += r.count }
            XCTAssertEqual(sum, 1)
        }
    }
}
