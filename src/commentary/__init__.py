"""commentary: stance and themes of the comments under articles, learnt from your labels."""

from .errors import CommentaryError
from .records import Article, Comment, Labels

__version__ = "0.1.0"

__all__ = ["Article", "Comment", "CommentaryError", "Labels", "__version__"]
