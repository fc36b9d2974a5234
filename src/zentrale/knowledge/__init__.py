"""Call scripts and product/service articles that supervisors write as Markdown files."""
