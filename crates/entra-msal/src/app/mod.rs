//! Applications: builders, request options, results and the silent-flow algorithm.
