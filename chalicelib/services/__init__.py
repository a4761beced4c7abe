"""Business operations. Each public method is one transaction (`with db.transaction() as tx:`);
services know nothing about HTTP."""
