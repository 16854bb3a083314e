"""Attribution on the served ``nova`` graph: scenarios, scripted world and feedback adapter."""
