"""HTTP surfaces. Thin: parse → load and authorise → call one service operation → render."""
