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

    /// Tapered chunks (`minimumChunk`): every index exactly once, each chunk at most `chunk`
    /// and, except a job's last one, at least `minimumChunk` items; with two and three threads.
    func testTaperedParallelForVisitsEachIndexOnceWithinChunkBounds() {
        for threads in [2, 3] {
            let pool = ThreadPool(threadCount: threads)
            for round in 0..<1500 {
                let count = 1 + (round * 37) % 1201
                let chunk = 1 + round % 97
                let minimum = 1 + round % 13
                let hits = UnsafeMutablePointer<Int>.allocate(capacity: count)
                hits.initialize(repeating: 0, count: count)
                let badChunks = Atomic<Int>(0)
                pool.parallelFor(count: count, chunk: chunk, minimumChunk: minimum) { range, _ in
                    for i in range { hits[i] += 1 }
                    let tooLarge = range.count > max(1, chunk)
                    let tooSmall = range.count < min(minimum, chunk) && range.upperBound != count
                    if range.isEmpty || tooLarge || tooSmall { badChunks.add(1, ordering: .relaxed) }
                }
                for i in 0..<count { XCTAssertEqual(hits[i], 1, "\(threads) threads, round \(round) index \(i)") }
                XCTAssertEqual(badChunks.load(ordering: .relaxed), 0, "\(threads) threads, round \(round): chunk outside [\(minimum), \(chunk)]")
                hits.deallocate()
            }
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
