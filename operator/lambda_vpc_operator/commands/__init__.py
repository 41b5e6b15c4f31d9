"""The operator's commands for humans and CI besides ``run``: ``plan`` (a dry run on AWS) and ``status``
(a table of attachments). Above the handlers, below the CLI's argument parsing."""
