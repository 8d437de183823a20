"""The window's actions (menus, tool bar, shortcuts)."""
