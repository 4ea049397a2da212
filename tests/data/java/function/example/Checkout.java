package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;

public class Checkout implements RequestHandler<Order, Receipt> {
    @Override
    public Receipt handleRequest(Order order, Context context) {
        double total = 0;
        for (Order.Item item : order.getItems()) total += item.quantity * item.price;
        return new Receipt(order.customer, total, order.isExpress());
    }
}
